//! Values put into links: percent-encoded, so a file named `a&b #1` (or anything a backup holds)
//! stays one query value and cannot add parameters or end the URL.

/// `text` with every byte but unreserved characters and `/` percent-encoded.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_stay_one_value() {
        assert_eq!(super::encode("dir/a&b #1?x=%"), "dir/a%26b%20%231%3Fx%3D%25");
        assert_eq!(super::encode("ünï"), "%C3%BCn%C3%AF");
    }
}
