//! What a stored résumé really is, judged from its bytes.
//!
//! The content type and file name of an upload are whatever the client chose
//! to send, so they prove nothing: an executable renamed `cv.pdf` arrives as
//! `application/pdf`. Before a résumé is kept or handed back out, its bytes
//! are checked here by magic number *and* by the structure behind it (a
//! PDF's end marker, a ZIP's central directory, an OLE file's directory), so
//! that what we store is what we say it is. The input is hostile by
//! assumption: every read is bounds-checked, every sum checked, every loop
//! bounded, so this answers for any bytes and never panics or spins.

use std::fmt;

/// A kind of résumé file we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Doc,
    Docx,
}

impl DocumentKind {
    const ALL: [Self; 3] = [Self::Pdf, Self::Doc, Self::Docx];

    /// The MIME type clients declare for it.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Doc => "application/msword",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        }
    }

    /// From a declared MIME type (case-insensitive, parameters like
    /// "; charset=x" ignored); None for anything else.
    pub fn from_content_type(raw: &str) -> Option<Self> {
        let essence = raw.split(';').next()?.trim();
        Self::ALL.into_iter().find(|kind| kind.content_type().eq_ignore_ascii_case(essence))
    }

    /// The file-name extension that goes with it, lower case, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Doc => "doc",
            Self::Docx => "docx",
        }
    }

    /// Its name in a sentence, with the article.
    fn described(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF document",
            Self::Doc => "a Word 97-2003 document (.doc)",
            Self::Docx => "a Word document (.docx)",
        }
    }
}

/// Why bytes are not the document they claim to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// There are no bytes at all.
    Empty,
    /// Neither the expected kind nor recognisably another (from `check`).
    NotA(DocumentKind),
    /// A sound document, but of another accepted kind than declared.
    WrongKind { expected: DocumentKind, found: DocumentKind },
    /// Starts like the kind, but its structure is broken: truncated or corrupt.
    Damaged(DocumentKind),
    /// A sound ZIP archive without a Word document's parts.
    ZipNotWord,
    /// A sound OLE compound file without a WordDocument stream (e.g. Excel).
    OleNotWord,
    /// Not any accepted kind (from `sniff`, which expects nothing).
    Unknown,
}

impl Mismatch {
    /// The kind this refusal is specifically about, if any.
    fn about(&self) -> Option<DocumentKind> {
        match self {
            Self::Damaged(kind) => Some(*kind),
            Self::ZipNotWord => Some(DocumentKind::Docx),
            Self::OleNotWord => Some(DocumentKind::Doc),
            _ => None,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the file is empty"),
            Self::NotA(kind) => write!(f, "the file is not {}", kind.described()),
            Self::WrongKind { expected, found } => {
                write!(f, "the file is {}, not {}", found.described(), expected.described())
            }
            Self::Damaged(kind) => {
                write!(f, "the file looks like {} but is damaged or truncated", kind.described())
            }
            Self::ZipNotWord => f.write_str("the file is a ZIP archive but not a Word document"),
            Self::OleNotWord => f.write_str("the file is an Office file but not a Word document"),
            Self::Unknown => f.write_str("the file is not a PDF or Word document"),
        }
    }
}

impl std::error::Error for Mismatch {}

/// What `bytes` really are; Err when they are not any accepted kind.
pub fn sniff(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    if bytes.is_empty() {
        Err(Mismatch::Empty)
    } else if bytes.starts_with(b"%PDF-") {
        pdf(bytes)
    } else if bytes.starts_with(b"PK\x03\x04") {
        docx(bytes)
    } else if bytes.starts_with(&OLE_MAGIC) {
        doc(bytes)
    } else {
        Err(Mismatch::Unknown)
    }
}

/// Ok when `bytes` are a well-formed `expected`.
pub fn check(bytes: &[u8], expected: DocumentKind) -> Result<(), Mismatch> {
    match sniff(bytes) {
        Ok(found) if found == expected => Ok(()),
        Ok(found) => Err(Mismatch::WrongKind { expected, found }),
        // Say what is wrong with the declared kind; a broken file of some
        // other kind is, to the user, simply not what they said it was.
        Err(e) if e == Mismatch::Empty || e.about() == Some(expected) => Err(e),
        Err(_) => Err(Mismatch::NotA(expected)),
    }
}

fn bytes_at<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    bytes_at(bytes, at).map(u16::from_le_bytes)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes_at(bytes, at).map(u32::from_le_bytes)
}

/// Readers look for the end marker near the end only: a truncated upload
/// loses it, so it tells a whole file from a cut one.
const PDF_TAIL: usize = 1024;

fn pdf(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    let versioned = bytes.get(5).is_some_and(u8::is_ascii_digit);
    let tail = bytes.get(bytes.len().saturating_sub(PDF_TAIL)..).unwrap_or(bytes);
    let ended = tail.windows(5).any(|window| window == b"%%EOF");
    if versioned && ended { Ok(DocumentKind::Pdf) } else { Err(Mismatch::Damaged(DocumentKind::Pdf)) }
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
/// A résumé has a handful of parts; this only bounds the walk.
const MAX_ENTRIES: usize = 10_000;

fn docx(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    match word_parts(bytes) {
        Some((true, true)) => Ok(DocumentKind::Docx),
        Some(_) => Err(Mismatch::ZipNotWord),
        None => Err(Mismatch::Damaged(DocumentKind::Docx)),
    }
}

/// Whether the central directory lists `word/document.xml` and
/// `[Content_Types].xml`; None when the directory cannot be read.
fn word_parts(bytes: &[u8]) -> Option<(bool, bool)> {
    let record = bytes.get(find_eocd(bytes)?..)?;
    let count = usize::from(u16_at(record, 10)?).min(MAX_ENTRIES);
    let size = usize::try_from(u32_at(record, 12)?).ok()?;
    let offset = usize::try_from(u32_at(record, 16)?).ok()?;
    // The directory must lie before its end record, not merely in the file.
    let end = offset.checked_add(size)?;
    if end > bytes.len().saturating_sub(record.len()) {
        return None;
    }
    let directory = bytes.get(offset..end)?;
    let (mut at, mut document, mut types) = (0usize, false, false);
    for _ in 0..count {
        let entry = directory.get(at..)?;
        if u32_at(entry, 0)? != CENTRAL_SIGNATURE {
            return None;
        }
        let name_len = usize::from(u16_at(entry, 28)?);
        let trailer_len = usize::from(u16_at(entry, 30)?) + usize::from(u16_at(entry, 32)?);
        let name = entry.get(CENTRAL_LEN..CENTRAL_LEN + name_len)?;
        document |= name == b"word/document.xml";
        types |= name == b"[Content_Types].xml";
        at = at.checked_add(CENTRAL_LEN + name_len + trailer_len)?;
    }
    Some((document, types))
}

/// The end record sits in the last 22 bytes plus at most a 65 535-byte
/// comment; the last signature there is taken to be it.
fn find_eocd(bytes: &[u8]) -> Option<usize> {
    let last = bytes.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    (first..=last).rev().find(|&at| u32_at(bytes, at) == Some(EOCD_SIGNATURE))
}

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const HEADER_DIFAT: usize = 109;
const DIRECTORY_ENTRY_LEN: usize = 128;
const STREAM_OBJECT: u8 = 2;

fn doc(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    match Ole::open(bytes).and_then(|ole| ole.has_word_document()) {
        Some(true) => Ok(DocumentKind::Doc),
        Some(false) => Err(Mismatch::OleNotWord),
        None => Err(Mismatch::Damaged(DocumentKind::Doc)),
    }
}

/// An OLE2 compound file: a little FAT file system in one buffer.
struct Ole<'a> {
    bytes: &'a [u8],
    sector_len: usize,
}

impl<'a> Ole<'a> {
    fn open(bytes: &'a [u8]) -> Option<Self> {
        let layout = (u16_at(bytes, 26)?, u16_at(bytes, 28)?, u16_at(bytes, 30)?);
        let sector_len = match layout {
            (3, 0xFFFE, 9) => 512,
            (4, 0xFFFE, 12) => 4096,
            _ => return None,
        };
        Some(Self { bytes, sector_len })
    }

    /// Sector `n`; the header takes the place of a sector before sector 0.
    fn sector(&self, n: u32) -> Option<&'a [u8]> {
        let start = usize::try_from(n).ok()?.checked_add(1)?.checked_mul(self.sector_len)?;
        self.bytes.get(start..start.checked_add(self.sector_len)?)
    }

    /// The sector after `n` in its chain. Only the FAT sectors the header
    /// lists are read: 109 of them map 7 MB at least, ample for a résumé.
    fn next(&self, n: u32) -> Option<u32> {
        let per_sector = self.sector_len / 4;
        let n = usize::try_from(n).ok()?;
        let fat_index = n / per_sector;
        if fat_index >= HEADER_DIFAT {
            return None;
        }
        let fat_sector = u32_at(self.bytes, 76 + 4 * fat_index)?;
        u32_at(self.sector(fat_sector)?, (n % per_sector) * 4)
    }

    /// Walks the directory's chain; a chain longer than the file has
    /// sectors must loop, and is refused.
    fn has_word_document(&self) -> Option<bool> {
        let mut current = u32_at(self.bytes, 48)?;
        for _ in 0..self.bytes.len() / self.sector_len + 1 {
            if current == END_OF_CHAIN {
                return Some(false);
            }
            if self.sector(current)?.chunks_exact(DIRECTORY_ENTRY_LEN).any(is_word_document) {
                return Some(true);
            }
            current = self.next(current)?;
        }
        None
    }
}

/// A stream entry named "WordDocument" (UTF-16LE, with its terminator).
fn is_word_document(entry: &[u8]) -> bool {
    let wanted = "WordDocument\0".encode_utf16().flat_map(u16::to_le_bytes);
    let name = u16_at(entry, 64).and_then(|len| entry.get(..usize::from(len)));
    entry.get(66) == Some(&STREAM_OBJECT) && name.is_some_and(|name| name.iter().copied().eq(wanted))
}

#[cfg(test)]
mod tests {
    use super::DocumentKind::{Doc, Docx, Pdf};
    use super::*;

    const PDF: &[u8] = include_bytes!("../tests/fixtures/resume.pdf");
    const DOCX: &[u8] = include_bytes!("../tests/fixtures/resume.docx");
    const DOC: &[u8] = include_bytes!("../tests/fixtures/resume.doc");
    const NOT_WORD: &[u8] = include_bytes!("../tests/fixtures/not-word.zip");
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0";
    const MZ: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0PE\0\0";

    /// A ZIP of empty stored files: local headers, central directory, end record.
    fn zip(names: &[&str]) -> Vec<u8> {
        let (mut file, mut central) = (Vec::new(), Vec::new());
        for name in names {
            let len = (name.len() as u16).to_le_bytes();
            let offset = (file.len() as u32).to_le_bytes();
            file.extend([&b"PK\x03\x04\x14\0"[..], &[0; 20], &len, &[0; 2], name.as_bytes()].concat());
            central
                .extend([&b"PK\x01\x02\x14\0\x14\0"[..], &[0; 20], &len, &[0; 12], &offset, name.as_bytes()].concat());
        }
        let (count, size) = ((names.len() as u16).to_le_bytes(), (central.len() as u32).to_le_bytes());
        let offset = (file.len() as u32).to_le_bytes();
        file.extend(central);
        file.extend([&b"PK\x05\x06"[..], &[0; 4], &count, &count, &size, &offset, &[0; 2]].concat());
        file
    }

    fn put32(bytes: &mut [u8], at: usize, value: u32) {
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// A version 3 OLE file: header, FAT in sector 0, one directory sector
    /// (sector 1, followed in the FAT by `after_directory`) holding `entries`.
    fn ole(entries: &[(&str, u8)], after_directory: u32) -> Vec<u8> {
        let mut file = vec![0xFF; 512 * 3];
        file[..76].fill(0);
        file[..8].copy_from_slice(&OLE_MAGIC);
        file[26..32].copy_from_slice(&[3, 0, 0xFE, 0xFF, 9, 0]);
        for (at, value) in [(44, 1), (48, 1), (56, 4096), (60, END_OF_CHAIN), (68, END_OF_CHAIN), (76, 0)] {
            put32(&mut file, at, value);
        }
        put32(&mut file, 512, 0xFFFF_FFFD);
        put32(&mut file, 516, after_directory);
        file[1024..].fill(0);
        for (index, (name, kind)) in entries.iter().enumerate() {
            let at = 1024 + 128 * index;
            let units: Vec<u8> = name.encode_utf16().chain([0]).flat_map(u16::to_le_bytes).collect();
            file[at..at + units.len()].copy_from_slice(&units);
            file[at + 64] = units.len() as u8;
            file[at + 66] = *kind;
        }
        file
    }

    #[test]
    fn fixtures_are_their_kind() {
        for (bytes, kind) in [(PDF, Pdf), (DOCX, Docx), (DOC, Doc)] {
            assert_eq!(sniff(bytes), Ok(kind));
            assert_eq!(check(bytes, kind), Ok(()));
        }
    }

    #[test]
    fn built_documents_are_their_kind() {
        assert_eq!(sniff(&zip(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"])), Ok(Docx));
        assert_eq!(sniff(&ole(&[("Root Entry", 5), ("WordDocument", 2)], END_OF_CHAIN)), Ok(Doc));
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\r\n\n"), Ok(Pdf));
    }

    #[test]
    fn zip_or_ole_without_word_is_refused() {
        assert_eq!(sniff(NOT_WORD), Err(Mismatch::ZipNotWord));
        assert_eq!(check(NOT_WORD, Docx), Err(Mismatch::ZipNotWord));
        assert_eq!(check(NOT_WORD, Pdf), Err(Mismatch::NotA(Pdf)));
        assert_eq!(sniff(&zip(&["word/document.xml"])), Err(Mismatch::ZipNotWord));
        assert_eq!(sniff(&zip(&["[Content_Types].xml", "xl/workbook.xml"])), Err(Mismatch::ZipNotWord));
        let excel = ole(&[("Root Entry", 5), ("Workbook", 2)], END_OF_CHAIN);
        assert_eq!(check(&excel, Doc), Err(Mismatch::OleNotWord));
        // A storage (type 1) of the right name is not the stream.
        assert_eq!(sniff(&ole(&[("Root Entry", 5), ("WordDocument", 1)], END_OF_CHAIN)), Err(Mismatch::OleNotWord));
    }

    #[test]
    fn impostors_and_emptiness_are_refused() {
        for kind in DocumentKind::ALL {
            assert_eq!(check(ELF, kind), Err(Mismatch::NotA(kind)));
            assert_eq!(check(MZ, kind), Err(Mismatch::NotA(kind)));
            assert_eq!(check(b"", kind), Err(Mismatch::Empty));
        }
        assert_eq!(sniff(ELF), Err(Mismatch::Unknown));
        assert_eq!(sniff(b""), Err(Mismatch::Empty));
        assert_eq!(check(PDF, Docx), Err(Mismatch::WrongKind { expected: Docx, found: Pdf }));
        assert_eq!(check(DOC, Docx), Err(Mismatch::WrongKind { expected: Docx, found: Doc }));
    }

    #[test]
    fn damaged_structures_are_refused() {
        let end = PDF.len() - b"%%EOF\n".len();
        assert_eq!(sniff(&PDF[..end]), Err(Mismatch::Damaged(Pdf)));
        assert_eq!(sniff(b"%PDF-x\n%%EOF"), Err(Mismatch::Damaged(Pdf)));
        let mut far = PDF[..end].to_vec();
        far.extend([b' '; PDF_TAIL]);
        far.extend(b"%%EO");
        assert_eq!(check(&far, Pdf), Err(Mismatch::Damaged(Pdf)));
        // A directory sector that is its own successor: refused, not a hang.
        assert_eq!(sniff(&ole(&[("Root Entry", 5)], 1)), Err(Mismatch::Damaged(Doc)));
        // A chain into a sector past the end of the file.
        assert_eq!(sniff(&ole(&[("Root Entry", 5)], 1000)), Err(Mismatch::Damaged(Doc)));
        // A sector whose FAT entry would be in a FAT sector past the header's DIFAT.
        let file = ole(&[("Root Entry", 5)], END_OF_CHAIN);
        let reader = Ole::open(&file).unwrap();
        assert_eq!((reader.next(1), reader.next(127)), (Some(END_OF_CHAIN), Some(0xFFFF_FFFF)));
        assert_eq!((reader.next(128), reader.next(109 * 128)), (None, None)); // FAT sector absent; beyond DIFAT
        let mut version = DOC.to_vec();
        version[30] = 12; // version 3 with 4 KB sectors
        assert_eq!(sniff(&version), Err(Mismatch::Damaged(Doc)));
        let mut count = zip(&["word/document.xml"]);
        let at = count.len() - 12;
        count[at..at + 2].copy_from_slice(&[0xFF, 0xFF]); // more entries than there are
        assert_eq!(sniff(&count), Err(Mismatch::Damaged(Docx)));
        assert_eq!(check(&DOCX[..DOCX.len() / 2], Pdf), Err(Mismatch::NotA(Pdf)));
    }

    #[test]
    fn truncated_or_corrupted_fixtures_never_panic() {
        for fixture in [PDF, DOCX, DOC, NOT_WORD] {
            for cut in 0..fixture.len() {
                let _ = (sniff(&fixture[..cut]), check(&fixture[..cut], Doc));
            }
            let mut bytes = fixture.to_vec();
            for at in 0..bytes.len() {
                for value in [0x00, 0xFF, fixture[at] ^ 0x80] {
                    bytes[at] = value;
                    let _ = sniff(&bytes);
                }
                bytes[at] = fixture[at];
            }
        }
        // Cut anywhere before their end markers, the fixtures are refused.
        for cut in 0..PDF.len() - 1 {
            assert!(sniff(&PDF[..cut]).is_err(), "pdf cut at {cut}");
        }
        for cut in 0..DOCX.len() {
            assert!(sniff(&DOCX[..cut]).is_err(), "docx cut at {cut}");
        }
        for cut in 0..1024 + 512 {
            assert!(sniff(&DOC[..cut]).is_err(), "doc cut at {cut}");
        }
    }

    #[test]
    fn content_types_and_extensions() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_content_type(kind.content_type()), Some(kind));
        }
        assert_eq!(DocumentKind::from_content_type(" Application/PDF ; charset=binary"), Some(Pdf));
        assert_eq!(DocumentKind::from_content_type("text/plain"), None);
        assert_eq!(DocumentKind::from_content_type(""), None);
        assert_eq!([Pdf, Doc, Docx].map(DocumentKind::extension), ["pdf", "doc", "docx"]);
    }

    #[test]
    fn messages_are_sentences() {
        assert_eq!(Mismatch::Empty.to_string(), "the file is empty");
        assert_eq!(Mismatch::NotA(Pdf).to_string(), "the file is not a PDF document");
        assert_eq!(Mismatch::ZipNotWord.to_string(), "the file is a ZIP archive but not a Word document");
        let wrong = Mismatch::WrongKind { expected: Docx, found: Pdf };
        assert_eq!(wrong.to_string(), "the file is a PDF document, not a Word document (.docx)");
    }
}
