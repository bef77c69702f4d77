//! Text helpers more than one stage needs.

/// Cuts `s` to at most `max` bytes, at a character boundary. Returns whether it cut.
pub fn cut(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

/// `60000` as `60,000`, for a person reading a count.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a character must not be shown as it is on one line of text: a control
/// character, and the ones YAML 1.1 and some editors read as line breaks.
pub fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `text` on one line of printable characters: each that [`breaks_line`] as `\uXXXX`.
/// Names come from servers too; one with a line break in it must not start a line of
/// its own (in a YAML comment, or inside a Markdown block it could end).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if breaks_line(c) {
                format!("\\u{:04X}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_at_a_character_boundary() {
        let mut s = "aé".to_owned(); // `é` is bytes 1..3
        assert!(cut(&mut s, 2));
        assert_eq!(s, "a");
        let mut s = "abc".to_owned();
        assert!(!cut(&mut s, 3));
        assert_eq!(s, "abc");
    }
}
