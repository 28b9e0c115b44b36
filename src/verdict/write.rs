//! Writing outputs atomically: a temporary file in the target's directory, then a rename, so a
//! reader (or a crash, or Ctrl-C) never sees a half-written verdict.

use std::io::Write;
use std::path::Path;

/// Serialize `value` as JSON with one record per line: the top-level object and the arrays and
/// objects directly in it are indented, everything nested deeper (each flow, endpoint, finding,
/// summary answer) is written compactly on its own line. `grep` on a verdict then shows whole
/// records, and the file is about a quarter smaller than fully indented JSON.
pub fn to_writer_records<W: Write, T: serde::Serialize + ?Sized>(
    w: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, RecordsFormatter::default());
    value.serialize(&mut ser)
}

/// Indented down to [`RecordsFormatter::INDENTED_DEPTH`] open containers, compact below.
#[derive(Default)]
struct RecordsFormatter {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    depth: usize,
}

impl RecordsFormatter {
    const INDENTED_DEPTH: usize = 2;

    fn indented(&self) -> bool {
        self.depth <= Self::INDENTED_DEPTH
    }
}

/// Calls for containers up to the indented depth go to the pretty formatter (all of them, so its
/// indentation state stays consistent); the rest use the compact defaults.
impl serde_json::ser::Formatter for RecordsFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        if self.indented() {
            self.pretty.begin_array(w)
        } else {
            w.write_all(b"[")
        }
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let r = if self.indented() {
            self.pretty.end_array(w)
        } else {
            w.write_all(b"]")
        };
        self.depth -= 1;
        r
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if self.indented() {
            self.pretty.begin_array_value(w, first)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.indented() {
            self.pretty.end_array_value(w)
        } else {
            Ok(())
        }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        if self.indented() {
            self.pretty.begin_object(w)
        } else {
            w.write_all(b"{")
        }
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        let r = if self.indented() {
            self.pretty.end_object(w)
        } else {
            w.write_all(b"}")
        };
        self.depth -= 1;
        r
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if self.indented() {
            self.pretty.begin_object_key(w, first)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.indented() {
            self.pretty.begin_object_value(w)
        } else {
            w.write_all(b":")
        }
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if self.indented() {
            self.pretty.end_object_value(w)
        } else {
            Ok(())
        }
    }
}

/// Write `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// Write to `path` atomically what `fill` writes (buffered), without holding it all in memory.
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".callproof-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    make_readable(tmp.as_file(), path)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temporary file is private (0600); an output is an ordinary file, readable as a
/// `tcpdump -w` capture is (0644), or with the mode of the file it replaces.
pub fn make_readable(tmp: &std::fs::File, path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        tmp.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (tmp, path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_one_per_line_and_the_same_json() {
        let v = serde_json::json!({
            "schema": "x",
            "summary": {"a": {"status": "pass", "reason": "r"}},
            "flows": [{"id": 0, "tls": {"alpn": ["h2"]}}, {"id": 1}],
            "empty": [],
        });
        let mut out = Vec::new();
        to_writer_records(&mut out, &v).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.contains(&r#"    {"id":0,"tls":{"alpn":["h2"]}},"#),
            "{text}"
        );
        assert!(
            lines.contains(&r#"    "a": {"reason":"r","status":"pass"}"#),
            "{text}"
        );
        assert!(lines.contains(&r#"  "empty": [],"#), "{text}");
    }

    #[test]
    fn replaces_existing_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("v.json");
        std::fs::write(&target, b"old").unwrap();
        write_atomically(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_readable_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.json");
        write_atomically(&fresh, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&fresh), 0o644);
        let kept = dir.path().join("kept.json");
        std::fs::write(&kept, b"old").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&kept, b"new").unwrap();
        assert_eq!(mode(&kept), 0o600);
    }
}
