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
            let size = field(header.entry_size(), "size")?;
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
    let mut uid = field(header.uid(), "uid")?;
    let mut gid = field(header.gid(), "gid")?;
    let mut mtime = (
        i64::try_from(field(header.mtime(), "mtime")?).map_err(|_| corrupt("bad mtime field"))?,
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
        mode: field(header.mode(), "mode")? & 0o7777,
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
