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
//!
//! Résumés are downloaded by other users, so documents that carry active
//! content are refused too: a Word file with a VBA project (macros), a .docx
//! with ActiveX controls or an embedded program or script, and a PDF that
//! names JavaScript, a launch action, embedded files, rich media or XFA
//! forms. This is a first line of defence, not a guarantee, because it reads
//! only what is visible without decompressing anything:
//!
//! - in a PDF, names inside compressed streams, notably object streams
//!   (`/ObjStm`, usually FlateDecode), are not seen, so a dictionary with
//!   `/JS` compressed into one passes. (Names are compared after `#xx`
//!   escapes are decoded, so `/J#53` is `/JS`.) Stream bodies (`>> stream`
//!   … `endstream`) are skipped: their bytes are data, not PDF syntax, and
//!   compressed data spells `/JS` and a delimiter often enough that a
//!   large, harmless PDF would otherwise be refused now and then. Strings
//!   are not parsed, so a string holding `>> stream` and `endstream` hides
//!   what lies between them from this scan;
//! - in a .docx, parts are judged by their names in the ZIP directory. Names
//!   are conventions: OPC locates parts through relationships and
//!   `[Content_Types].xml` (deflated, so unread here), so a renamed part
//!   passes, and so does a program wrapped in an OLE package
//!   (`word/embeddings/oleObject1.bin`);
//! - in a .doc, only the names in the OLE directory are read.
//!
//! What this cannot see, the way downloads are served must contain: always
//! as attachments (`Content-Disposition: attachment`) with
//! `X-Content-Type-Options: nosniff`, never rendered inline.

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
    /// A Word document (.doc or .docx) carrying a VBA project.
    Macros(DocumentKind),
    /// A .docx with ActiveX controls (`word/activeX/…`).
    ActiveX,
    /// A .docx embedding a program or script (`word/embeddings/x.exe`, …).
    EmbeddedProgram,
    /// A PDF naming JavaScript, a launch action, embedded files, rich media
    /// or XFA forms.
    PdfActiveContent,
}

impl Mismatch {
    /// The kind this refusal is specifically about, if any.
    fn about(&self) -> Option<DocumentKind> {
        match self {
            Self::Damaged(kind) => Some(*kind),
            Self::ZipNotWord => Some(DocumentKind::Docx),
            Self::OleNotWord => Some(DocumentKind::Doc),
            Self::Macros(kind) => Some(*kind),
            Self::ActiveX | Self::EmbeddedProgram => Some(DocumentKind::Docx),
            Self::PdfActiveContent => Some(DocumentKind::Pdf),
            Self::Empty | Self::NotA(_) | Self::WrongKind { .. } | Self::Unknown => None,
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
            Self::Macros(_) => f.write_str("the document contains macros, which résumés may not"),
            Self::ActiveX => f.write_str("the document contains ActiveX controls, which résumés may not"),
            Self::EmbeddedProgram => f.write_str("the document embeds a program or script, which résumés may not"),
            Self::PdfActiveContent => f.write_str(
                "the PDF contains JavaScript, embedded files or other active content, which résumés may not",
            ),
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

/// Readers look for the end marker, and the `startxref` before it, near the
/// end only: a truncated upload loses them, so they tell a whole file from a
/// cut one.
const PDF_TAIL: usize = 1024;

fn pdf(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    let versioned = bytes.get(5).is_some_and(u8::is_ascii_digit);
    let tail = bytes.get(bytes.len().saturating_sub(PDF_TAIL)..).unwrap_or(bytes);
    let before_end = rfind(tail, b"%%EOF").and_then(|end| tail.get(..end));
    if !(versioned && before_end.is_some_and(has_startxref)) {
        Err(Mismatch::Damaged(DocumentKind::Pdf))
    } else if pdf_is_active(bytes) {
        Err(Mismatch::PdfActiveContent)
    } else {
        Ok(DocumentKind::Pdf)
    }
}

/// Where `needle` last starts in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None; // `windows(0)` would panic
    }
    haystack.windows(needle.len()).rposition(|window| window == needle)
}

/// Whether the last `startxref` in `bytes` is followed by an offset.
fn has_startxref(bytes: &[u8]) -> bool {
    const KEYWORD: &[u8] = b"startxref";
    let after = rfind(bytes, KEYWORD).and_then(|at| bytes.get(at.checked_add(KEYWORD.len())?..));
    after.is_some_and(|after| after.iter().find(|&&byte| !is_pdf_whitespace(byte)).is_some_and(u8::is_ascii_digit))
}

fn is_pdf_whitespace(byte: u8) -> bool {
    matches!(byte, b'\0' | b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

fn is_pdf_delimiter(byte: u8) -> bool {
    matches!(byte, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

/// Names (without the slash) that make a PDF active when they begin a name:
/// `/EmbeddedFile` covers `/EmbeddedFiles`, `/RichMedia` `/RichMediaContent`.
const ACTIVE_PDF_PREFIXES: [&[u8]; 5] = [b"JavaScript", b"Launch", b"EmbeddedFile", b"RichMedia", b"XFA"];
/// Decoded bytes kept of each name: enough to compare with the longest.
const PDF_NAME_KEPT: usize = 16;

/// Whether any name in `bytes` outside stream bodies (strings and comments
/// included) is an active one: `/JS` exactly, or one beginning with an
/// `ACTIVE_PDF_PREFIXES` entry. Each byte is read a bounded number of times.
fn pdf_is_active(bytes: &[u8]) -> bool {
    outside_streams(bytes).any(names_active)
}

fn names_active(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    // Each turn consumes the slash and the name after it, so this ends.
    while let Some(slash) = rest.iter().position(|&byte| byte == b'/') {
        let after = rest.get(slash.saturating_add(1)..).unwrap_or_default();
        let (kept, len, used) = pdf_name(after);
        let name = kept.get(..len.min(PDF_NAME_KEPT)).unwrap_or_default();
        if name == b"JS" || ACTIVE_PDF_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
            return true;
        }
        rest = after.get(used..).unwrap_or_default();
    }
    false
}

/// The pieces of a PDF between its stream bodies (`>> stream` EOL …
/// `endstream`); a stream without an end is no stream, and is read. Every
/// turn moves forward.
fn outside_streams(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((keyword, body)) = stream_start(rest) else {
            return Some(std::mem::take(&mut rest));
        };
        let data = rest.get(body..).unwrap_or_default();
        match find(data, b"endstream") {
            Some(end) => {
                let head = rest.get(..keyword).unwrap_or_default();
                rest = data.get(end.saturating_add(9)..).unwrap_or_default();
                Some(head)
            }
            // No end: not a stream after all, so all of it is read.
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// Where the next `stream` keyword is and where its body begins, after the
/// end of line that must follow it.
fn stream_start(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0usize;
    while let Some(found) = bytes.get(from..).and_then(|rest| find(rest, b"stream")) {
        let at = from.saturating_add(found);
        let after = at.saturating_add(6);
        // A stream's keyword follows its dictionary's `>>`.
        let before = bytes.get(..at).unwrap_or_default();
        let trimmed =
            before.iter().rposition(|&byte| !is_pdf_whitespace(byte)).map_or(0, |last| last.saturating_add(1));
        let after_dictionary = before.get(..trimmed).is_some_and(|head| head.ends_with(b">>"));
        let eol = match (bytes.get(after), bytes.get(after.saturating_add(1))) {
            (Some(b'\r'), Some(b'\n')) => Some(2),
            (Some(b'\n'), _) => Some(1),
            _ => None,
        };
        if let (true, Some(eol)) = (after_dictionary, eol) {
            return Some((at, after.saturating_add(eol)));
        }
        from = after;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// The name at the start of `bytes` (just after its slash), up to the next
/// whitespace or delimiter, with `#xx` escapes decoded: its first
/// `PDF_NAME_KEPT` decoded bytes, its decoded length, and the raw bytes used.
fn pdf_name(bytes: &[u8]) -> ([u8; PDF_NAME_KEPT], usize, usize) {
    let (mut kept, mut len, mut at) = ([0u8; PDF_NAME_KEPT], 0usize, 0usize);
    while let Some(&byte) = bytes.get(at) {
        if is_pdf_whitespace(byte) || is_pdf_delimiter(byte) {
            break;
        }
        let escaped = match (byte, bytes.get(at.saturating_add(1)), bytes.get(at.saturating_add(2))) {
            (b'#', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)).map(|(high, low)| (high << 4) | low),
            _ => None,
        };
        if let Some(slot) = kept.get_mut(len) {
            *slot = escaped.unwrap_or(byte);
        }
        len = len.saturating_add(1);
        at = at.saturating_add(if escaped.is_some() { 3 } else { 1 });
    }
    (kept, len, at.min(bytes.len()))
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|value| u8::try_from(value).ok())
}

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_LEN: usize = 46;
/// A résumé has a handful of parts; this only bounds the walk.
const MAX_ENTRIES: usize = 10_000;

fn docx(bytes: &[u8]) -> Result<DocumentKind, Mismatch> {
    match word_parts(bytes) {
        Some(WordParts { document: true, types: true, active: None }) => Ok(DocumentKind::Docx),
        Some(WordParts { document: true, types: true, active: Some(refusal) }) => Err(refusal),
        Some(_) => Err(Mismatch::ZipNotWord),
        None => Err(Mismatch::Damaged(DocumentKind::Docx)),
    }
}

/// What a ZIP's central directory lists.
struct WordParts {
    /// `word/document.xml`
    document: bool,
    /// `[Content_Types].xml`
    types: bool,
    /// Why the first part named like active content is refused.
    active: Option<Mismatch>,
}

/// Part names, lower case, of programs and scripts under `word/embeddings/`.
const PROGRAM_ENDINGS: [&[u8]; 6] = [b".exe", b".bat", b".cmd", b".js", b".vbs", b".ps1"];

/// Why a part of this name makes a .docx active, if it does: compared
/// case-insensitively, with `\` taken for `/` as some tools write it.
fn active_part(name: &[u8]) -> Option<Mismatch> {
    let name: Vec<u8> = name.iter().map(|&byte| if byte == b'\\' { b'/' } else { byte.to_ascii_lowercase() }).collect();
    if name.windows(14).any(|window| window == b"vbaproject.bin") {
        Some(Mismatch::Macros(DocumentKind::Docx))
    } else if name.starts_with(b"word/activex/") {
        Some(Mismatch::ActiveX)
    } else if name.starts_with(b"word/embeddings/") && PROGRAM_ENDINGS.iter().any(|end| name.ends_with(end)) {
        Some(Mismatch::EmbeddedProgram)
    } else {
        None
    }
}

/// The parts the central directory lists; None when it cannot be read, or
/// holds other than exactly the entries its end record counts (entries
/// beyond the count would be hidden from the checks here).
fn word_parts(bytes: &[u8]) -> Option<WordParts> {
    let record = bytes.get(find_eocd(bytes)?..)?;
    let count = usize::from(u16_at(record, 10)?);
    if count > MAX_ENTRIES {
        return None;
    }
    let size = usize::try_from(u32_at(record, 12)?).ok()?;
    let offset = usize::try_from(u32_at(record, 16)?).ok()?;
    // The directory must lie before its end record, not merely in the file.
    let end = offset.checked_add(size)?;
    if end > bytes.len().saturating_sub(record.len()) {
        return None;
    }
    let directory = bytes.get(offset..end)?;
    let (mut at, mut parts) = (0usize, WordParts { document: false, types: false, active: None });
    for _ in 0..count {
        let entry = directory.get(at..)?;
        if u32_at(entry, 0)? != CENTRAL_SIGNATURE {
            return None;
        }
        let name_len = usize::from(u16_at(entry, 28)?);
        let trailer_len = usize::from(u16_at(entry, 30)?) + usize::from(u16_at(entry, 32)?);
        let name = entry.get(CENTRAL_LEN..CENTRAL_LEN + name_len)?;
        parts.document |= name == b"word/document.xml";
        parts.types |= name == b"[Content_Types].xml";
        if parts.active.is_none() {
            parts.active = active_part(name);
        }
        at = at.checked_add(CENTRAL_LEN + name_len + trailer_len)?;
    }
    (at == directory.len()).then_some(parts)
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
    match Ole::open(bytes).and_then(|ole| ole.directory()) {
        Some(Directory { word_document: true, macros: false }) => Ok(DocumentKind::Doc),
        Some(Directory { word_document: true, macros: true }) => Err(Mismatch::Macros(DocumentKind::Doc)),
        Some(Directory { word_document: false, .. }) => Err(Mismatch::OleNotWord),
        None => Err(Mismatch::Damaged(DocumentKind::Doc)),
    }
}

/// What an OLE file's directory holds.
struct Directory {
    /// A stream named `WordDocument`.
    word_document: bool,
    /// An entry named like part of a VBA project.
    macros: bool,
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

    /// Walks the whole of the directory's chain; a chain longer than the
    /// file has sectors must loop, and is refused.
    fn directory(&self) -> Option<Directory> {
        let mut found = Directory { word_document: false, macros: false };
        let mut current = u32_at(self.bytes, 48)?;
        for _ in 0..self.bytes.len() / self.sector_len + 1 {
            if current == END_OF_CHAIN {
                return Some(found);
            }
            for entry in self.sector(current)?.chunks_exact(DIRECTORY_ENTRY_LEN) {
                found.word_document |= is_word_document(entry);
                found.macros |= is_macro_entry(entry);
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

/// Entry names (lower case) of a VBA project: Word keeps one in a `Macros`
/// storage, holding `VBA` and `_VBA_PROJECT`; Excel and PowerPoint name
/// their storage `_VBA_PROJECT_CUR`.
const MACRO_NAMES: [&str; 4] = ["macros", "_vba_project", "_vba_project_cur", "vba"];

/// An allocated entry (storage, stream or root; any but type 0, unused) with
/// a `MACRO_NAMES` name, compared case-insensitively. The name is read both
/// by its length field and up to its terminator, in case the two disagree.
fn is_macro_entry(entry: &[u8]) -> bool {
    let Some(field) = entry.get(..64) else { return false };
    if entry.get(66).is_none_or(|&kind| kind == 0) {
        return false;
    }
    let units = |bytes: &[u8]| -> Vec<u16> { bytes.chunks_exact(2).filter_map(|pair| u16_at(pair, 0)).collect() };
    let by_terminator: Vec<u16> = units(field).into_iter().take_while(|&unit| unit != 0).collect();
    let by_length = u16_at(entry, 64).and_then(|len| field.get(..usize::from(len))).map(|bytes| {
        let mut name = units(bytes);
        while name.last() == Some(&0) {
            name.pop();
        }
        name
    });
    [Some(by_terminator), by_length]
        .into_iter()
        .flatten()
        .any(|name| MACRO_NAMES.iter().any(|wanted| name.iter().map(|&unit| fold(unit)).eq(wanted.encode_utf16())))
}

/// A UTF-16 unit folded to lower case for comparison: ASCII, and the two
/// letters whose upper case is ASCII (`ſ` is `S`, `ı` is `I`), as OLE
/// compares names in upper case.
fn fold(unit: u16) -> u16 {
    match unit {
        0x017F => u16::from(b's'),
        0x0131 => u16::from(b'i'),
        _ => u8::try_from(unit).map_or(unit, |byte| u16::from(byte.to_ascii_lowercase())),
    }
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
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\nstartxref\r\n9\n%%EOF\r\n\n"), Ok(Pdf));
    }

    /// A minimal PDF around `body`, with its end markers.
    fn pdf_with(body: &str) -> Vec<u8> {
        format!("%PDF-1.7\n1 0 obj\n{body}\nendobj\nstartxref\n9\n%%EOF\n").into_bytes()
    }

    #[test]
    fn pdf_needs_startxref_before_its_end() {
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"), Err(Mismatch::Damaged(Pdf)));
        assert_eq!(sniff(b"%PDF-1.7\n<<>>\n%%EOF\nstartxref\n9\n"), Err(Mismatch::Damaged(Pdf)));
        assert_eq!(sniff(b"%PDF-1.7\n<<>>\nstartxref\n%%EOF\n"), Err(Mismatch::Damaged(Pdf)));
        assert_eq!(sniff(b"%PDF-1.7\n<<>>\nstartxref 0%%EOF"), Ok(Pdf));
        // Farther than PDF_TAIL from the end: not where readers look.
        let mut far = b"%PDF-1.7\nstartxref\n9\n".to_vec();
        far.extend([b' '; PDF_TAIL]);
        far.extend(b"%%EOF\n");
        assert_eq!(sniff(&far), Err(Mismatch::Damaged(Pdf)));
        assert!(has_startxref(b"startxref\n550\n"));
        assert!(PDF.windows(9).any(|window| window == b"startxref"));
    }

    #[test]
    fn active_pdfs_are_refused() {
        for body in [
            "<< /S /JavaScript /JS (app.alert(1)) >>",
            "<< /JS (app.alert(1)) >>",
            "<</JS(app.alert(1))>>",
            "<< /OpenAction << /S /JS <6170702e616c657274283129> >> >>",
            "<< /OpenAction [/JS] >>",
            "<< /S /Launch /F (cmd.exe) >>",
            "<< /Type /EmbeddedFile /Length 0 >>",
            "<< /Names << /EmbeddedFiles 2 0 R >> >>",
            "<< /Subtype /RichMedia >>",
            "<< /AcroForm << /XFA 3 0 R >> >>",
            "<< /S /J#61vaScript >>", // #xx escapes are decoded
            "<< /J#53 (x) >>",
            "(a string naming /JS%)",
        ] {
            let bytes = pdf_with(body);
            assert_eq!(sniff(&bytes), Err(Mismatch::PdfActiveContent), "{body}");
            assert_eq!(check(&bytes, Pdf), Err(Mismatch::PdfActiveContent), "{body}");
        }
        assert!(pdf_is_active(b"/JS") && pdf_is_active(b"//JS\n") && pdf_is_active(b"/JS\x0C"));
    }

    #[test]
    fn names_inside_stream_bodies_are_data() {
        let inside = pdf_with("<< /Length 12 >>\nstream\nxx/JS (a)xx\nendstream");
        assert_eq!(sniff(&inside), Ok(DocumentKind::Pdf));
        let after = pdf_with("<< /Length 1 >>\nstream\nx\nendstream\n<< /S /JavaScript >>");
        assert!(check(&after, DocumentKind::Pdf).is_err());
        let unterminated = pdf_with("<< >>\nstream\n/JS (a)");
        assert!(sniff(&unterminated).is_err(), "a stream without an end is read");
        let in_a_string = pdf_with("(stream\n) /JS (a) (endstream)");
        assert!(sniff(&in_a_string).is_err(), "`stream` not after a dictionary starts nothing");
    }

    #[test]
    fn pdfs_naming_lookalikes_are_accepted() {
        for body in [
            "<< /Type /Metadata /Subtype /JSON /JSX 1 /Js 2 /JSa 3 >>",
            "<< /J 1 /S /URI /URI (https://example.com/javascript.html) >>",
            "(JavaScript, JS and Launch as plain words)",
            "<< /J#5 /J#5G /J#4 >>",
        ] {
            assert_eq!(sniff(&pdf_with(body)), Ok(Pdf), "{body}");
        }
    }

    #[test]
    fn word_files_with_macros_are_refused() {
        // The fixture's directory sector: Root Entry, WordDocument, 1Table and
        // an unused entry, which becomes a `Macros` storage.
        let mut macros = DOC.to_vec();
        let entry = 1024 + 3 * 128;
        let name: Vec<u8> = "Macros\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
        macros[entry..entry + name.len()].copy_from_slice(&name);
        macros[entry + 64] = name.len() as u8;
        macros[entry + 66] = 1;
        assert_eq!(sniff(&macros), Err(Mismatch::Macros(Doc)));
        assert_eq!(check(&macros, Doc), Err(Mismatch::Macros(Doc)));
        macros[entry + 66] = 0; // unused entries are not read
        assert_eq!(sniff(&macros), Ok(Doc));

        for (name, kind) in [("Macros", 1), ("VBA", 1), ("_VBA_PROJECT", 2), ("_vba_project_cur", 1), ("vBa", 2)] {
            let file = ole(&[("Root Entry", 5), ("WordDocument", 2), (name, kind)], END_OF_CHAIN);
            assert_eq!(sniff(&file), Err(Mismatch::Macros(Doc)), "{name}");
        }
        // OLE upper-cases names: `ſ` compares as `S`.
        let long_s = ole(&[("Root Entry", 5), ("WordDocument", 2), ("Macro\u{17F}", 1)], END_OF_CHAIN);
        assert_eq!(sniff(&long_s), Err(Mismatch::Macros(Doc)));
        for name in ["MacrosX", "VBAs", "_VBA_PROJECTS", "ObjectPool", "Data"] {
            let file = ole(&[("Root Entry", 5), ("WordDocument", 2), (name, 1)], END_OF_CHAIN);
            assert_eq!(sniff(&file), Ok(Doc), "{name}");
        }

        // The whole directory chain is read, past the WordDocument entry:
        // sector 1 continues in sector 2, which holds the VBA storage.
        let mut chained = ole(&[("Root Entry", 5), ("WordDocument", 2)], 2);
        chained.extend(ole(&[("VBA", 1)], END_OF_CHAIN)[1024..].iter());
        put32(&mut chained, 520, END_OF_CHAIN);
        assert_eq!(sniff(&chained), Err(Mismatch::Macros(Doc)));
        put32(&mut chained, 520, 1); // a loop back to sector 1
        assert_eq!(sniff(&chained), Err(Mismatch::Damaged(Doc)));
    }

    #[test]
    fn docx_with_active_parts_are_refused() {
        let word = ["[Content_Types].xml", "_rels/.rels", "word/document.xml"];
        let with = |extra: &str| zip(&[&word[..], &[extra]].concat());
        for (part, refusal) in [
            ("word/vbaProject.bin", Mismatch::Macros(Docx)),
            ("WORD/VBAPROJECT.BIN", Mismatch::Macros(Docx)),
            ("word/_rels/vbaProject.bin.rels", Mismatch::Macros(Docx)),
            ("custom/vbaProject.bin", Mismatch::Macros(Docx)),
            ("word/activeX/activeX1.xml", Mismatch::ActiveX),
            ("word\\activeX\\activeX1.bin", Mismatch::ActiveX),
            ("word/embeddings/setup.EXE", Mismatch::EmbeddedProgram),
            ("word/embeddings/run.ps1", Mismatch::EmbeddedProgram),
            ("word/embeddings/a.js", Mismatch::EmbeddedProgram),
        ] {
            assert_eq!(sniff(&with(part)), Err(refusal), "{part}");
        }
        assert_eq!(check(&with("word/vbaProject.bin"), Docx), Err(Mismatch::Macros(Docx)));
        for part in [
            "word/media/image1.png",
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx",
            "word/embeddings/notes.json",
            "docProps/activeX.xml",
        ] {
            assert_eq!(sniff(&with(part)), Ok(Docx), "{part}");
        }
        // A ZIP that is not Word stays ZipNotWord, macros or not.
        assert_eq!(sniff(&zip(&["[Content_Types].xml", "xl/vbaProject.bin"])), Err(Mismatch::ZipNotWord));
        // Entries beyond the count would go unchecked: refused.
        let mut hidden = with("word/vbaProject.bin");
        let at = hidden.len() - 12;
        hidden[at..at + 2].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(sniff(&hidden), Err(Mismatch::Damaged(Docx)));
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
        assert_eq!(Mismatch::Macros(Doc).to_string(), "the document contains macros, which résumés may not");
        assert_eq!(
            Mismatch::PdfActiveContent.to_string(),
            "the PDF contains JavaScript, embedded files or other active content, which résumés may not"
        );
        for refusal in [Mismatch::ActiveX, Mismatch::EmbeddedProgram] {
            assert!(refusal.to_string().ends_with(", which résumés may not"), "{refusal}");
        }
    }
}
