//! Job output made safe to show on a person's terminal. A job's output is written by whoever
//! committed the pipeline; printed raw, an escape sequence in it acts on the viewer's
//! terminal: `ESC ] 52` writes their clipboard, `ESC [ 2 J` clears the screen, others retitle
//! the window or move the cursor over earlier lines. Colours and styles (SGR, `ESC [ … m`)
//! are kept; every other escape sequence and control character is dropped.

use std::borrow::Cow;

/// `line` with only its SGR sequences (colours, bold…) and tabs left of its control
/// characters.
pub fn terminal_safe(line: &str) -> Cow<'_, str> {
    if !line
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{1b}')
    {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    let mut sequence = String::from("\u{1b}[");
                    let mut last = None;
                    for c in chars.by_ref() {
                        sequence.push(c);
                        // A CSI ends with a byte in `@`..=`~`.
                        if ('@'..='~').contains(&c) {
                            last = Some(c);
                            break;
                        }
                    }
                    let params = &sequence[2..sequence.len() - last.map_or(0, char::len_utf8)];
                    let sgr = last == Some('m')
                        && params
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == ';' || c == ':');
                    if sgr {
                        out.push_str(&sequence);
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (`ESC \`), all dropped.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || c == '\u{9c}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Any other escape: it and the character it introduces.
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            // 8-bit CSI and the other C1 introducers: their sequence as for ESC.
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text of many lines for standard output: made [`terminal_safe`] line by line when that is
/// a terminal, as it is otherwise (a file or pipe gets the log's bytes).
pub fn for_stdout(text: &str) -> Cow<'_, str> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        out.push_str(&terminal_safe(body));
        out.push_str(end);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn colours_stay_and_everything_else_goes() {
        assert_eq!(terminal_safe("plain\ttext"), "plain\ttext");
        assert_eq!(
            terminal_safe("\u{1b}[1;31mred\u{1b}[0m \u{1b}[38;5;208mo\u{1b}[m"),
            "\u{1b}[1;31mred\u{1b}[0m \u{1b}[38;5;208mo\u{1b}[m"
        );
        // OSC 52 (the clipboard), by BEL and by ST.
        assert_eq!(terminal_safe("a\u{1b}]52;c;cHduZWQ=\u{7}b"), "ab");
        assert_eq!(terminal_safe("a\u{1b}]0;title\u{1b}\\b"), "ab");
        // Clear the screen, move the cursor, erase the line, a private mode.
        assert_eq!(
            terminal_safe("\u{1b}[2Jx\u{1b}[1;1Hy\u{1b}[Kz\u{1b}[?1049h"),
            "xyz"
        );
        // Other controls: bell, backspace, carriage return, 8-bit CSI, a lone ESC.
        assert_eq!(terminal_safe("a\u{7}b\u{8}c\rd\u{9b}2Je\u{1b}"), "abcde");
        // An SGR with other bytes in it is not an SGR.
        assert_eq!(terminal_safe("\u{1b}[31;>m!"), "!");
        // DCS.
        assert_eq!(terminal_safe("\u{1b}Pq#0\u{1b}\\ok"), "ok");
    }
}
