//! Rules of a résumé: what may be uploaded (type, name, size), how long its
//! URLs live, where its bytes are kept, and whether stored bytes are what
//! was declared. No I/O here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobtracker_kit::AppError;
use uuid::Uuid;

use crate::sniff::{self, DocumentKind};

pub const MAX_FILE_NAME_CHARS: usize = 255;
/// The default upper bound of a résumé (`FILES_MAX_BYTES`).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// How long an upload URL accepts its PUT, by default (`FILES_UPLOAD_URL_SECS`).
pub const DEFAULT_UPLOAD_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A résumé as stored: pending until `attached_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub file_name: String,
    pub kind: DocumentKind,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    pub attached_at: Option<DateTime<Utc>>,
}

impl File {
    /// Where the bytes land when the owner PUTs them.
    pub fn upload_key(&self) -> String {
        upload_key(self.id)
    }

    /// Where the bytes are once attached: a copy taken when they were checked,
    /// so that a later PUT to a still valid upload URL cannot change them.
    pub fn resume_key(&self) -> String {
        resume_key(self.id)
    }

    /// `Content-Disposition` for downloads: always an attachment (a résumé
    /// is never rendered in our origin), the name in ASCII with its UTF-8
    /// form beside it (RFC 6266).
    pub fn content_disposition(&self) -> String {
        let ascii: String = self
            .file_name
            .chars()
            .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
            .collect();
        let mut encoded = String::new();
        for byte in self.file_name.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                encoded.push(byte as char);
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
    }
}

pub fn upload_key(id: Uuid) -> String {
    format!("uploads/{id}")
}

pub fn resume_key(id: Uuid) -> String {
    format!("resumes/{id}")
}

/// `createResumeUpload`'s arguments, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUpload {
    pub file_name: String,
    pub kind: DocumentKind,
    pub size_bytes: u64,
}

impl NewUpload {
    /// PDF, DOC or DOCX, named with its type's extension, 1 byte to
    /// `max_bytes`.
    pub fn parse(file_name: &str, content_type: &str, size_bytes: i32, max_bytes: u64) -> Result<Self, AppError> {
        let kind = DocumentKind::from_content_type(content_type)
            .ok_or_else(|| AppError::bad_input("contentType", "a résumé must be a PDF, DOC or DOCX document"))?;
        let file_name = file_name.trim();
        let bad_name = |why: &str| AppError::bad_input("fileName", why);
        if file_name.is_empty() {
            return Err(bad_name("must not be empty"));
        }
        if file_name.chars().count() > MAX_FILE_NAME_CHARS {
            return Err(bad_name(&format!("must be at most {MAX_FILE_NAME_CHARS} characters")));
        }
        if file_name.chars().any(|c| c.is_control() || matches!(c, '/' | '\\')) {
            return Err(bad_name("must be a file name, without control characters or slashes"));
        }
        let extension = file_name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase());
        if extension.as_deref() != Some(kind.extension()) {
            return Err(bad_name(&format!(
                "a {} file's name ends in .{}",
                kind.extension().to_uppercase(),
                kind.extension()
            )));
        }
        let size = u64::try_from(size_bytes).unwrap_or(0);
        if size == 0 || size > max_bytes {
            return Err(AppError::bad_input("sizeBytes", format!("must be between 1 and {max_bytes} bytes")));
        }
        Ok(Self { file_name: file_name.to_string(), kind, size_bytes: size })
    }
}

/// What the object store holds under a key, read for checking.
#[derive(Debug)]
pub enum StoredObject {
    Missing,
    /// Not of the declared size: not read.
    WrongSize(u64),
    Bytes(Vec<u8>),
}

/// Whether the stored bytes are the document `file` declared: its exact size,
/// and its type by content (magic bytes and structure), never by name.
pub fn check_stored(file: &File, stored: &StoredObject) -> Result<(), AppError> {
    let refuse = |why: String| AppError::bad_input("fileId", why);
    match stored {
        StoredObject::Missing => {
            Err(refuse("nothing was uploaded for this file: PUT its bytes to uploadUrl first".into()))
        }
        StoredObject::WrongSize(0) => Err(refuse(sniff::Mismatch::Empty.to_string())),
        StoredObject::WrongSize(size) => {
            Err(refuse(format!("{size} bytes were uploaded but {} were declared", file.size_bytes)))
        }
        StoredObject::Bytes(bytes) if bytes.len() as u64 != file.size_bytes => {
            Err(refuse(format!("{} bytes were uploaded but {} were declared", bytes.len(), file.size_bytes)))
        }
        StoredObject::Bytes(bytes) => sniff::check(bytes, file.kind).map_err(|mismatch| refuse(mismatch.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &str = "application/pdf";

    fn field(result: Result<NewUpload, AppError>) -> Option<String> {
        result.unwrap_err().field().map(str::to_string)
    }

    #[test]
    fn only_documents_of_a_bounded_size_with_a_matching_name() {
        let ok = NewUpload::parse(" CV.PDF ", "Application/PDF", 1000, DEFAULT_MAX_BYTES).unwrap();
        assert_eq!((ok.file_name.as_str(), ok.kind, ok.size_bytes), ("CV.PDF", DocumentKind::Pdf, 1000));
        assert_eq!(
            field(NewUpload::parse("cv.exe", "application/x-msdownload", 10, 100)).as_deref(),
            Some("contentType")
        );
        assert_eq!(field(NewUpload::parse("cv.exe", PDF, 10, 100)).as_deref(), Some("fileName"));
        assert_eq!(field(NewUpload::parse("cv", PDF, 10, 100)).as_deref(), Some("fileName"));
        assert_eq!(field(NewUpload::parse("a/b.pdf", PDF, 10, 100)).as_deref(), Some("fileName"));
        assert_eq!(field(NewUpload::parse("a\u{0}.pdf", PDF, 10, 100)).as_deref(), Some("fileName"));
        assert_eq!(field(NewUpload::parse("  ", PDF, 10, 100)).as_deref(), Some("fileName"));
        let long = format!("{}.pdf", "x".repeat(MAX_FILE_NAME_CHARS));
        assert_eq!(field(NewUpload::parse(&long, PDF, 10, 100)).as_deref(), Some("fileName"));
        for size in [0, -1, 101, i32::MIN] {
            assert_eq!(field(NewUpload::parse("cv.pdf", PDF, size, 100)).as_deref(), Some("sizeBytes"), "{size}");
        }
        assert!(NewUpload::parse("cv.pdf", PDF, 100, 100).is_ok());
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(NewUpload::parse("cv.docx", docx, 1, 100).unwrap().kind, DocumentKind::Docx);
        assert_eq!(field(NewUpload::parse("cv.doc", docx, 1, 100)).as_deref(), Some("fileName"));
    }

    fn file(name: &str, size: u64) -> File {
        let now = Utc::now();
        File {
            id: Uuid::nil(),
            owner_id: Uuid::nil(),
            file_name: name.into(),
            kind: DocumentKind::Pdf,
            size_bytes: size,
            created_at: now,
            upload_expires_at: now,
            attached_at: None,
        }
    }

    #[test]
    fn stored_bytes_must_have_the_declared_size_and_type() {
        let pdf = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\nstartxref\n9\n%%EOF\n".to_vec();
        let declared = file("cv.pdf", pdf.len() as u64);
        assert!(check_stored(&declared, &StoredObject::Bytes(pdf.clone())).is_ok());
        assert_eq!(check_stored(&declared, &StoredObject::Missing).unwrap_err().field(), Some("fileId"));
        assert!(check_stored(&declared, &StoredObject::WrongSize(0)).unwrap_err().to_string().contains("empty"));
        assert!(check_stored(&declared, &StoredObject::WrongSize(9_999)).is_err());
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(pdf.len(), 0);
        assert_eq!(check_stored(&declared, &StoredObject::Bytes(elf)).unwrap_err().field(), Some("fileId"));
    }

    #[test]
    fn downloads_are_attachments_named_safely() {
        assert_eq!(file("cv.pdf", 1).content_disposition(), "attachment; filename=\"cv.pdf\"; filename*=UTF-8''cv.pdf");
        let tricky = file("Lebenslauf \"Müller\".pdf", 1).content_disposition();
        assert_eq!(
            tricky,
            "attachment; filename=\"Lebenslauf _M_ller_.pdf\"; filename*=UTF-8''Lebenslauf%20%22M%C3%BCller%22.pdf"
        );
    }
}
