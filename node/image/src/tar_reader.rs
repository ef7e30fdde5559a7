//! A bounded tar reader (SECURITY.md items 6 and 9).
//!
//! Header fields are parsed with the `tar` crate; the block loop, GNU long names, PAX records
//! and every limit are ours, so that no input can make us allocate without bound, loop
//! forever or panic. A missing end-of-archive marker counts as truncation.

use std::io::{self, Read};

use tar::{EntryType, Header};

use crate::paths::lossy;
use crate::ImageError;

const BLOCK: u64 = 512;
/// uid/gid `4294967295` is `(uid_t)-1`; anything above is not a Linux id.
const MAX_ID: u64 = u32::MAX as u64 - 1;

/// Raw key/value pairs (PAX records, xattrs).
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Caps on what one archive may contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Entries (files, directories, links...).
    pub entries: u64,
    /// Bytes of one entry's extended header (GNU long name or link, PAX records).
    pub header_bytes: u64,
    /// Bytes of the whole uncompressed stream.
    pub total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 1 << 20,
            header_bytes: 1 << 20,
            total_bytes: 256 << 30,
        }
    }
}

/// What an entry creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

/// One entry's header, with long names and PAX overrides applied.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub kind: Kind,
    /// The raw entry name.
    pub name: Vec<u8>,
    /// The raw link target (symlinks and hardlinks).
    pub link: Vec<u8>,
    /// Permission bits, with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Bytes of file data (0 for anything but files).
    pub size: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Extended attributes from PAX `SCHILY.xattr.*` records.
    pub xattrs: Pairs,
}

/// Extended-header values waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Pairs,
}

/// Reads entries one at a time; call [`TarReader::data`] to read the current file's bytes.
pub(crate) struct TarReader<R> {
    inner: Counted<R>,
    limits: Limits,
    entries: u64,
    /// Unread data of the current entry.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    finished: bool,
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R, limits: Limits) -> Self {
        TarReader {
            inner: Counted {
                inner,
                read: 0,
                cap: limits.total_bytes,
            },
            limits,
            entries: 0,
            remaining: 0,
            padding: 0,
            finished: false,
        }
    }

    /// The next entry, or `None` after the end-of-archive marker.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>, ImageError> {
        if self.finished {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut pending = Pending::default();
        loop {
            let mut block = [0u8; BLOCK as usize];
            if !self.read_block(&mut block)? {
                return Err(corrupt(if self.inner.read == 0 {
                    "the archive is empty"
                } else {
                    "the archive is truncated (no end-of-archive marker)"
                }));
            }
            if block.iter().all(|b| *b == 0) {
                // The marker is two zero blocks; a lone one at EOF is accepted, as GNU tar does.
                let mut second = [0u8; BLOCK as usize];
                self.read_block(&mut second)?;
                self.finished = true;
                return Ok(None);
            }
            let header = Header::from_byte_slice(&block);
            check_checksum(header)?;
            let size = numeric(&header.as_old().size, header.entry_size(), "size")?;
            self.remaining = size;
            self.padding = (BLOCK - size % BLOCK) % BLOCK;
            match header.entry_type() {
                EntryType::GNULongName => {
                    pending.long_name = Some(trim_nul(self.read_extension(size)?))
                }
                EntryType::GNULongLink => {
                    pending.long_link = Some(trim_nul(self.read_extension(size)?))
                }
                EntryType::XHeader => pending.pax = parse_pax(&self.read_extension(size)?)?,
                EntryType::XGlobalHeader => {
                    // Global defaults (usually just a comment); the limits still apply.
                    self.read_extension(size)?;
                }
                _ => {
                    self.entries += 1;
                    if self.entries > self.limits.entries {
                        return Err(corrupt(&format!(
                            "the archive has more than {} entries",
                            self.limits.entries
                        )));
                    }
                    let (entry, data_size) = build_entry(header, size, pending)?;
                    self.remaining = data_size;
                    self.padding = (BLOCK - data_size % BLOCK) % BLOCK;
                    if entry.kind != Kind::File {
                        // Data on a non-file (allowed by the format) is skipped.
                        self.skip_rest()?;
                    }
                    return Ok(Some(entry));
                }
            }
        }
    }

    /// The current entry's data; reading past it returns EOF, a short archive is an error.
    pub(crate) fn data(&mut self) -> EntryData<'_, R> {
        EntryData { reader: self }
    }

    /// Reads what is left of the stream after the end marker (so a digest of it is complete).
    pub(crate) fn drain(&mut self) -> Result<(), ImageError> {
        io::copy(&mut self.inner, &mut io::sink()).map_err(read_error)?;
        Ok(())
    }

    fn read_extension(&mut self, size: u64) -> Result<Vec<u8>, ImageError> {
        if size > self.limits.header_bytes {
            return Err(corrupt(&format!(
                "an extended header of {size} bytes exceeds the limit of {}",
                self.limits.header_bytes
            )));
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        self.data().read_to_end(&mut data).map_err(read_error)?;
        self.skip_rest()?;
        Ok(data)
    }

    /// Skips the current entry's unread data and its padding.
    fn skip_rest(&mut self) -> Result<(), ImageError> {
        let skip = self.remaining + self.padding;
        let skipped =
            io::copy(&mut (&mut self.inner).take(skip), &mut io::sink()).map_err(read_error)?;
        if skipped != skip {
            return Err(corrupt("the archive is truncated inside an entry"));
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Fills `block`; false at a clean EOF before its first byte.
    fn read_block(&mut self, block: &mut [u8; BLOCK as usize]) -> Result<bool, ImageError> {
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(corrupt("the archive is truncated inside a header")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(true)
    }
}

/// Reader over the current entry's data.
pub(crate) struct EntryData<'a, R> {
    reader: &'a mut TarReader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = &mut *self.reader;
        if reader.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(reader.remaining).unwrap_or(usize::MAX));
        let n = reader.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive is truncated inside an entry",
            ));
        }
        reader.remaining -= n as u64;
        Ok(n)
    }
}

/// Counts bytes and refuses to read past the cap (decompression bombs).
struct Counted<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the archive exceeds the limit of {} bytes", self.cap),
            ));
        }
        Ok(n)
    }
}

fn corrupt(reason: &str) -> ImageError {
    ImageError::invalid(format!("invalid tar archive: {reason}"))
}

/// Read failures of the stream: corrupt input (bad gzip, truncation, over the cap) is the
/// caller's fault; anything else is an I/O error.
pub(crate) fn read_error(e: io::Error) -> ImageError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            corrupt(&e.to_string())
        }
        _ => ImageError::io("reading the archive", e),
    }
}

fn field<T>(value: io::Result<T>, name: &str) -> Result<T, ImageError> {
    value.map_err(|e| corrupt(&format!("bad {name} field: {e}")))
}

/// A numeric header field; one left blank (all NULs or spaces, as some writers do) is 0, like
/// GNU tar and Go read it.
fn numeric<T: Default>(raw: &[u8], value: io::Result<T>, name: &str) -> Result<T, ImageError> {
    if raw.iter().all(|b| *b == 0 || *b == b' ') {
        Ok(T::default())
    } else {
        field(value, name)
    }
}

/// The header checksum: the sum of its bytes with the checksum field read as spaces (some old
/// writers summed signed bytes, so both are accepted).
fn check_checksum(header: &Header) -> Result<(), ImageError> {
    let stored = field(header.cksum(), "checksum")?;
    let bytes = header.as_bytes();
    let (mut unsigned, mut signed) = (0u32, 0i64);
    for (i, b) in bytes.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u32::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || i64::from(stored) == signed {
        Ok(())
    } else {
        Err(corrupt("header checksum mismatch"))
    }
}

fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// PAX records: `<len> <key>=<value>\n`, where `len` counts the whole record.
fn parse_pax(data: &[u8]) -> Result<Pairs, ImageError> {
    let bad = || corrupt("malformed PAX header");
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record.iter().position(|b| *b == b'=').ok_or_else(bad)?;
        records.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(records)
}

/// The entry, and the size of the data that follows its header (PAX may override it).
fn build_entry(header: &Header, size: u64, pending: Pending) -> Result<(Entry, u64), ImageError> {
    let mut name = pending
        .long_name
        .unwrap_or_else(|| header.path_bytes().into_owned());
    let mut link = pending
        .long_link
        .or_else(|| header.link_name_bytes().map(|l| l.into_owned()))
        .unwrap_or_default();
    let raw = header.as_old();
    let mut uid = numeric(&raw.uid, header.uid(), "uid")?;
    let mut gid = numeric(&raw.gid, header.gid(), "gid")?;
    let mtime = numeric(&raw.mtime, header.mtime(), "mtime")?;
    let mut mtime = (
        i64::try_from(mtime).map_err(|_| corrupt("bad mtime field"))?,
        0,
    );
    let mut size = size;
    let mut xattrs = Vec::new();
    for (key, value) in pending.pax {
        let number = || -> Result<u64, ImageError> {
            std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt(&format!("bad PAX {} value", lossy(&key))))
        };
        match key.as_slice() {
            b"path" => name = value,
            b"linkpath" => link = value,
            b"uid" => uid = number()?,
            b"gid" => gid = number()?,
            b"size" => size = number()?,
            b"mtime" => mtime = pax_time(&value)?,
            _ => {
                if let Some(xattr) = key.strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((xattr.to_vec(), value));
                }
            }
        }
    }
    let kind = match header.entry_type() {
        EntryType::Regular | EntryType::Continuous if name.ends_with(b"/") => Kind::Dir,
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink,
        EntryType::Link => Kind::Hardlink,
        EntryType::Char => Kind::Char,
        EntryType::Block => Kind::Block,
        EntryType::Fifo => Kind::Fifo,
        other => {
            return Err(corrupt(&format!(
                "entry {:?} has the unsupported type {:?}",
                lossy(&name),
                char::from(other.as_byte())
            )))
        }
    };
    let id = |v: u64, what: &str| {
        if v <= MAX_ID {
            Ok(v as u32)
        } else {
            Err(corrupt(&format!(
                "entry {:?} has {what} {v} out of range",
                lossy(&name)
            )))
        }
    };
    let (dev_major, dev_minor) = match kind {
        Kind::Char | Kind::Block => (
            field(header.device_major(), "device major")?.unwrap_or(0),
            field(header.device_minor(), "device minor")?.unwrap_or(0),
        ),
        _ => (0, 0),
    };
    let entry = Entry {
        kind,
        uid: id(uid, "uid")?,
        gid: id(gid, "gid")?,
        mode: numeric(&raw.mode, header.mode(), "mode")? & 0o7777,
        mtime,
        size: if kind == Kind::File { size } else { 0 },
        dev_major,
        dev_minor,
        xattrs,
        name,
        link,
    };
    Ok((entry, size))
}

/// A PAX time: decimal seconds with an optional fraction.
fn pax_time(value: &[u8]) -> Result<(i64, u32), ImageError> {
    let bad = || corrupt("bad PAX mtime value");
    let text = std::str::from_utf8(value).map_err(|_| bad())?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: u32 = digits.parse().map_err(|_| bad())?;
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn file(builder: &mut tar::Builder<Vec<u8>>, name: &str, body: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, body).unwrap();
    }

    /// Every entry with its data.
    fn read_all(data: &[u8], limits: Limits) -> Result<Vec<(Entry, Vec<u8>)>, ImageError> {
        let mut reader = TarReader::new(data, limits);
        let mut out = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            let mut body = Vec::new();
            reader.data().read_to_end(&mut body).map_err(read_error)?;
            out.push((entry, body));
        }
        Ok(out)
    }

    fn invalid(result: Result<Vec<(Entry, Vec<u8>)>, ImageError>) -> String {
        match result {
            Err(ImageError::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn long_names_pax_and_data() {
        let long = format!("{}/file", "d".repeat(300));
        let data = archive(|b| {
            file(b, &long, b"long");
            b.append_pax_extensions([
                ("path", &b"pax/name"[..]),
                ("SCHILY.xattr.user.k", b"v\nwith newline"),
            ])
            .unwrap();
            file(b, "short", b"short body");
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(EntryType::Symlink);
            header.set_size(0);
            b.append_link(&mut header, "link", "t".repeat(200)).unwrap();
        });
        let entries = read_all(&data, Limits::default()).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].0.name, long.as_bytes());
        assert_eq!(entries[0].1, b"long");
        assert_eq!(entries[1].0.name, b"pax/name");
        assert_eq!(
            entries[1].0.xattrs,
            vec![(b"user.k".to_vec(), b"v\nwith newline".to_vec())]
        );
        assert_eq!(entries[1].1, b"short body");
        assert_eq!(entries[2].0.kind, Kind::Symlink);
        assert_eq!(entries[2].0.link, "t".repeat(200).as_bytes());
    }

    #[test]
    fn limits_are_enforced() {
        let many = archive(|b| (0..10).for_each(|i| file(b, &format!("f{i}"), b"x")));
        let limits = Limits {
            entries: 5,
            ..Limits::default()
        };
        assert!(invalid(read_all(&many, limits)).contains("more than 5 entries"));

        let long = archive(|b| file(b, &"n/".repeat(2000), b""));
        let limits = Limits {
            header_bytes: 1000,
            ..Limits::default()
        };
        assert!(invalid(read_all(&long, limits)).contains("extended header"));

        let big = archive(|b| file(b, "big", &vec![7u8; 100_000]));
        let limits = Limits {
            total_bytes: 50_000,
            ..Limits::default()
        };
        assert!(invalid(read_all(&big, limits)).contains("limit of 50000 bytes"));
    }

    #[test]
    fn malformed_archives_are_invalid() {
        let good = archive(|b| file(b, "a", &[1u8; 1000]));
        assert!(invalid(read_all(b"", Limits::default())).contains("empty"));
        assert!(
            invalid(read_all(&good[..good.len() - 1024], Limits::default()))
                .contains("end-of-archive")
        );
        assert!(invalid(read_all(&good[..900], Limits::default())).contains("truncated"));
        assert!(invalid(read_all(&good[..300], Limits::default()))
            .contains("truncated inside a header"));
        let mut bad_sum = good.clone();
        bad_sum[0] = b'b';
        assert!(invalid(read_all(&bad_sum, Limits::default())).contains("checksum"));
        let mut sparse = good.clone();
        sparse[156] = b'S';
        let header = Header::from_byte_slice(&sparse[..512]).clone();
        let mut header = header;
        header.set_cksum();
        sparse[..512].copy_from_slice(header.as_bytes());
        assert!(invalid(read_all(&sparse, Limits::default())).contains("unsupported type"));
        assert_eq!(
            parse_pax(b"6 a=b\n7 c==d\n").unwrap(),
            vec![
                (b"a".to_vec(), b"b".to_vec()),
                (b"c".to_vec(), b"=d".to_vec())
            ]
        );
        assert!(parse_pax(b"99 a=b\n").is_err());
        assert!(parse_pax(b"6 ab\nx").is_err());
        assert!(parse_pax(b"x a=b\n").is_err());
    }

    #[test]
    fn pax_times_and_ids() {
        assert_eq!(pax_time(b"1234.5").unwrap(), (1234, 500_000_000));
        assert_eq!(pax_time(b"7").unwrap(), (7, 0));
        assert!(pax_time(b"1.x").is_err());
        let data = archive(|b| {
            b.append_pax_extensions([("uid", &b"4294967295"[..])])
                .unwrap();
            file(b, "f", b"");
        });
        assert!(invalid(read_all(&data, Limits::default())).contains("uid 4294967295 out of range"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// No byte string panics the reader or makes it loop.
            #[test]
            fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4096)) {
                let _ = read_all(&data, Limits::default());
            }

            /// Mutating a valid archive anywhere still never panics.
            #[test]
            fn mutated_archives_never_panic(at in 0usize..3072, byte in any::<u8>()) {
                let mut data = archive(|b| {
                    file(b, &"x".repeat(150), b"0123456789");
                    file(b, "second", b"data");
                });
                let at = at % data.len();
                data[at] = byte;
                let _ = read_all(&data, Limits::default());
            }

            /// Any cut of a valid archive before its end marker is an error, never a shorter
            /// archive read as complete.
            #[test]
            fn truncation_is_detected(cut in 0usize..2560) {
                let data = archive(|b| {
                    file(b, "a", &[1u8; 700]);
                    file(b, "b", b"bb");
                });
                let end_of_entries = data.len() - 1024;
                let cut = cut % end_of_entries;
                prop_assert!(read_all(&data[..cut], Limits::default()).is_err());
            }
        }
    }
}
