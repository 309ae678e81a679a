//! What snap-confine needs from snapd's state (`/var/lib/snapd/state.json`):
//! the interfaces connected to a snap's plugs. A small JSON reader of our
//! own (snap-confine links no JSON library), bounded: nesting depth
//! [`MAX_DEPTH`], and only the `data.conns` object is kept.

/// Deepest JSON nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// The interfaces of the connections whose plug belongs to `instance`
/// (keys `INSTANCE:PLUG SLOTSNAP:SLOT` of `conns`), without those marked
/// `undesired` or `hotplug-gone`; sorted, once each.
pub fn connected_interfaces(json: &str, instance: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        s: json.as_bytes(),
        i: 0,
    };
    let root = p.value(0)?;
    let conns = root
        .get("conns")
        .or_else(|| root.get("data").and_then(|d| d.get("conns")));
    let mut out = Vec::new();
    let Some(Value::Object(conns)) = conns else {
        return Ok(out);
    };
    let prefix = format!("{instance}:");
    for (key, conn) in conns {
        if !key.starts_with(&prefix) {
            continue;
        }
        let flag = |k: &str| matches!(conn.get(k), Some(Value::Bool(true)));
        if flag("undesired") || flag("hotplug-gone") {
            continue;
        }
        if let Some(Value::String(iface)) = conn.get("interface") {
            out.push(iface.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    String(String),
    Other,
    Object(Vec<(String, Value)>),
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("cannot read state: {what} at byte {}", self.i))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Object(fields));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    fields.push((key, v));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(fields));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Other);
                }
                loop {
                    self.value(depth + 1)?;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Other);
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.word(b"true", Value::Bool(true)),
            Some(b'f') => self.word(b"false", Value::Bool(false)),
            Some(b'n') => self.word(b"null", Value::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                    )
                {
                    self.i += 1;
                }
                Ok(Value::Other)
            }
            _ => self.err("unexpected input"),
        }
    }

    fn word(&mut self, w: &[u8], v: Value) -> Result<Value, String> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            self.err("unexpected word")
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"));
                }
                Some(b'\\') => {
                    let Some(&e) = self.s.get(self.i + 1) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 2;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            let Some(cp) = hex else {
                                return self.err("bad \\u escape");
                            };
                            self.i += 4;
                            let c = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_of_one_snap() {
        let state = r#"{"data": {"auth": {"users": [1, 2.5e3, null]},
            "conns": {
              "hello:home core:home": {"interface": "home", "auto": true},
              "hello:network core:network": {"interface": "network", "auto": true},
              "hello:removable-media core:removable-media": {"interface": "removable-media"},
              "hello:x11 core:x11": {"interface": "x11", "undesired": true},
              "hello2:network core:network": {"interface": "network"},
              "other:slot hello:slot": {"interface": "content"}
            }}, "changes": {"1": {"status": "\u0044one \"x\""}}}"#;
        assert_eq!(
            connected_interfaces(state, "hello").unwrap(),
            ["home", "network", "removable-media"]
        );
        assert!(connected_interfaces(state, "nope").unwrap().is_empty());
        assert!(connected_interfaces("{}", "hello").unwrap().is_empty());
    }

    #[test]
    fn malformed_and_deep_input_is_an_error() {
        for bad in ["", "{", "{\"a\" 1}", "[1,", "\"\\u12", "{\"a\":tru}", "nul"] {
            assert!(connected_interfaces(bad, "x").is_err(), "{bad}");
        }
        let deep = "[".repeat(10_000);
        assert!(connected_interfaces(&deep, "x").is_err());
    }
}
