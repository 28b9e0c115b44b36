//! Writing outputs atomically: a temporary file in the target's directory, then a rename, so a
//! reader (or a crash, or Ctrl-C) never sees a half-written verdict.

use std::io::Write;
use std::path::Path;

use super::Verdict;

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

/// Write a verdict as [`to_writer_records`] does. The flow records of a spilled verdict (see
/// `Flows`) are copied from their file, already in this layout, rather than parsed back.
pub fn write_verdict<W: Write + ?Sized>(w: &mut W, v: &Verdict) -> std::io::Result<()> {
    let Some(spilled) = v.flows.spill_file() else {
        return to_writer_records(w, v).map_err(std::io::Error::from);
    };
    // The fields of `Verdict` in their order, with its skip rules (checked against the derived
    // form by the tests).
    w.write_all(b"{")?;
    field(w, true, "schema", &v.schema)?;
    field(w, false, "tool", &v.tool)?;
    field(w, false, "generated_at", &v.generated_at)?;
    field(w, false, "inputs", &v.inputs)?;
    if let Some(data) = &v.data {
        field(w, false, "data", data)?;
    }
    if let Some(keylog) = &v.keylog {
        field(w, false, "keylog", keylog)?;
    }
    field(w, false, "endpoints", &v.endpoints)?;
    w.write_all(b",\n  \"flows\": [")?;
    if spilled.lines() > 0 {
        spilled.copy_to(w)?;
        w.write_all(b"\n  ")?;
    }
    w.write_all(b"]")?;
    field(w, false, "findings", &v.findings)?;
    if let Some(summary) = &v.summary {
        field(w, false, "summary", summary)?;
    }
    if !v.skipped.is_empty() {
        field(w, false, "skipped", &v.skipped)?;
    }
    field(w, false, "vendors", &v.vendors)?;
    field(w, false, "claims", &v.claims)?;
    w.write_all(b"\n}")
}

/// One member of the top-level object, as `to_writer_records` writes it.
fn field<W: Write + ?Sized, T: serde::Serialize + ?Sized>(
    w: &mut W,
    first: bool,
    key: &str,
    value: &T,
) -> std::io::Result<()> {
    w.write_all(if first { b"\n  \"" } else { b",\n  \"" })?;
    w.write_all(key.as_bytes())?;
    w.write_all(b"\": ")?;
    let formatter = RecordsFormatter {
        depth: 1,
        has_value: false,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, formatter);
    value.serialize(&mut ser).map_err(std::io::Error::from)
}

/// Indented (two spaces a level, as serde_json's pretty printer) down to
/// [`RecordsFormatter::INDENTED_DEPTH`] open containers, compact below.
#[derive(Default)]
struct RecordsFormatter {
    /// Containers open.
    depth: usize,
    /// Whether the innermost indented container has a value yet (an empty one stays `[]`).
    has_value: bool,
}

impl RecordsFormatter {
    const INDENTED_DEPTH: usize = 2;

    fn indented(&self) -> bool {
        self.depth <= Self::INDENTED_DEPTH
    }

    fn indent<W: ?Sized + Write>(&self, w: &mut W, depth: usize) -> std::io::Result<()> {
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn begin<W: ?Sized + Write>(&mut self, w: &mut W, open: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(open)
    }

    fn end<W: ?Sized + Write>(&mut self, w: &mut W, close: &[u8]) -> std::io::Result<()> {
        let r = if self.indented() && self.has_value {
            w.write_all(b"\n")
                .and_then(|()| self.indent(w, self.depth - 1))
                .and_then(|()| w.write_all(close))
        } else {
            w.write_all(close)
        };
        self.depth -= 1;
        r
    }

    fn begin_member<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if self.indented() {
            w.write_all(if first { b"\n" } else { b",\n" })?;
            self.indent(w, self.depth)
        } else if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }
}

/// serde_json's pretty layout for containers up to the indented depth, its compact one below.
impl serde_json::ser::Formatter for RecordsFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_member(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.begin(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.end(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_member(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.indented() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Write `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes))
}

/// The buffered writer `write_atomically_with` hands out. A concrete type, not `dyn Write`:
/// serde_json writes in many small pieces (a quote, a key, a colon), and through a vtable each
/// would be a call rather than a copy into the buffer.
pub type AtomicWriter<'a> = std::io::BufWriter<&'a mut std::fs::File>;

/// Where an output named `path` goes.
#[derive(Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// A regular file, to be replaced atomically: the name given, or the file a symbolic link
    /// names (the link stays a link).
    File(std::path::PathBuf),
    /// Something that is not a regular file — `/dev/null`, a FIFO, a terminal, `/dev/stdout`
    /// of a pipe — to be written in place: replacing it with a file would, as root, turn
    /// `/dev/null` into an ordinary file.
    Special(std::path::PathBuf),
}

/// Where an output named `path` goes (see [`OutputTarget`]).
pub fn output_target(path: &Path) -> OutputTarget {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => OutputTarget::Special(path.to_path_buf()),
        Ok(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            OutputTarget::File(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
        }
        _ => OutputTarget::File(path.to_path_buf()),
    }
}

/// Write to `path` atomically what `fill` writes (buffered), without holding it all in memory;
/// in place when `path` is not a regular file ([`OutputTarget`]).
pub fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut AtomicWriter<'_>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let path = match output_target(path) {
        OutputTarget::Special(special) => {
            let mut file = std::fs::OpenOptions::new().write(true).open(special)?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut file);
            fill(&mut w)?;
            return w.flush();
        }
        OutputTarget::File(file) => file,
    };
    let path = path.as_path();
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

    /// `--out /dev/null` leaves /dev/null a device (as root, a rename over it made it an
    /// ordinary file holding the verdict); a FIFO gets the bytes and stays a FIFO.
    #[test]
    fn devices_and_fifos_are_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        write_atomically(null, b"a verdict").unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_eq!(output_target(null), OutputTarget::Special(null.into()));

        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("verdict.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"a verdict").unwrap();
        // checked before the join: a FIFO replaced by a file would leave the reader waiting
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"a verdict");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A symbolic link to a file stays a link; the file it names is replaced.
    #[test]
    fn a_link_is_followed_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
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
