//! An image archive (`docker save` / `podman save`) read as the engines read it: entry names
//! with their PAX and GNU long-name extensions, cleaned as the engine's untar cleans them; the
//! files its loader reads (`manifest.json`, and `index.json` for an OCI layout) found once each
//! and only as regular files. And the same archive narrowed to chosen images: those files
//! rewritten, everything else streamed as it is, without a copy of the layers.

use std::io::{Read, Seek, SeekFrom};

use serde_json::Value;

use super::canonical;

/// Why an archive cannot be loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("it is not a tar archive ({0})")]
    NotTar(String),
    #[error("it holds no manifest.json, so it is not an image archive")]
    NoManifest,
    #[error("its {0} cannot be read: {1}")]
    BadManifest(&'static str, String),
    #[error("{0}; the engines would not agree on what it holds")]
    Ambiguous(String),
}

/// The files the loader reads.
const MANIFEST: &str = "manifest.json";
const INDEX: &str = "index.json";
/// The largest manifest or index onramp reads.
const JSON_CAP: u64 = 16 << 20;

/// What an archive holds, as the engine will read it.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Every tag loading it would set (manifest.json's `RepoTags`, index.json's image names).
    pub tags: Vec<String>,
    files: Vec<Special>,
}

/// A file the loader reads: where its entry (with its extension headers) lies, and its content.
#[derive(Debug, Clone)]
struct Special {
    name: &'static str,
    start: u64,
    end: u64,
    json: Value,
}

/// Walk the tar headers (seeking over the layers) and read the loader's files.
pub fn read(file: &mut (impl Read + Seek)) -> Result<Archive, ArchiveError> {
    let not_tar = |e: std::io::Error| ArchiveError::NotTar(e.to_string());
    let mut tar = tar::Archive::new(file);
    let mut files: Vec<Special> = Vec::new();
    let mut end = 0u64;
    let mut any = false;
    for entry in tar.entries_with_seek().map_err(not_tar)? {
        let mut entry = entry.map_err(not_tar)?;
        any = true;
        let start = end;
        end = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
        let name = engine_name(&entry.path_bytes());
        let Some(special) = [MANIFEST, INDEX].into_iter().find(|s| *s == name) else {
            continue;
        };
        if files.iter().any(|f| f.name == special) {
            return Err(ArchiveError::Ambiguous(format!("it holds {special} twice")));
        }
        if !entry.header().entry_type().is_file() {
            return Err(ArchiveError::Ambiguous(format!(
                "its {special} is a link or a special file, not a file"
            )));
        }
        if entry.size() > JSON_CAP || start > entry.raw_header_position() {
            return Err(ArchiveError::BadManifest(special, "too large".into()));
        }
        let mut text = Vec::new();
        entry.read_to_end(&mut text).map_err(not_tar)?;
        let json = serde_json::from_slice(&text)
            .map_err(|e| ArchiveError::BadManifest(special, e.to_string()))?;
        files.push(Special {
            name: special,
            start,
            end,
            json,
        });
    }
    if !any {
        return Err(ArchiveError::NotTar("no entries".into()));
    }
    let Some(manifest) = files.iter().find(|f| f.name == MANIFEST) else {
        return Err(ArchiveError::NoManifest);
    };
    let mut tags =
        manifest_tags(&manifest.json).map_err(|e| ArchiveError::BadManifest(MANIFEST, e))?;
    if let Some(index) = files.iter().find(|f| f.name == INDEX) {
        for t in index_names(&index.json) {
            if !tags.iter().any(|have| canonical(have) == canonical(&t)) {
                tags.push(t);
            }
        }
    }
    Ok(Archive { tags, files })
}

/// An entry's name as the engine's untar writes it: Go's `filepath.Clean`, relative to the
/// directory it unpacks into.
fn engine_name(raw: &[u8]) -> String {
    let name = String::from_utf8_lossy(raw);
    crate::stack::ignore::clean(&format!("/{name}"))
        .trim_start_matches('/')
        .to_string()
}

fn manifest_tags(json: &Value) -> Result<Vec<String>, String> {
    let entries = json.as_array().ok_or("it is not a list")?;
    let mut out = Vec::new();
    for e in entries {
        match e.get("RepoTags") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tags)) => {
                for t in tags {
                    out.push(t.as_str().ok_or("a tag is not a string")?.to_string());
                }
            }
            Some(_) => return Err("RepoTags is not a list".into()),
        }
    }
    Ok(out)
}

/// The image names an OCI index gives its manifests (containerd's annotation).
fn index_names(json: &Value) -> Vec<String> {
    let manifests = json.get("manifests").and_then(Value::as_array);
    manifests
        .into_iter()
        .flatten()
        .filter_map(|m| m.pointer("/annotations/io.containerd.image.name")?.as_str())
        .map(str::to_string)
        .collect()
}

impl Archive {
    /// The tags of the archive that `wanted` does not name (compared by canonical name).
    pub fn others(&self, wanted: &[String]) -> Vec<String> {
        let want: Vec<String> = wanted.iter().map(|w| canonical(w)).collect();
        self.tags
            .iter()
            .filter(|t| !want.contains(&canonical(t)))
            .cloned()
            .collect()
    }

    /// The archive in `file`, with manifest.json and index.json narrowed to the images of
    /// `wanted`: loading it sets those tags and no other.
    pub fn narrowed<R: Read + Seek>(&self, file: R, wanted: &[String]) -> Narrowed<R> {
        let want: Vec<String> = wanted.iter().map(|w| canonical(w)).collect();
        let mut parts = Vec::new();
        let mut at = 0u64;
        let mut files: Vec<&Special> = self.files.iter().collect();
        files.sort_by_key(|f| f.start);
        for f in files {
            parts.push(Part::Copy(at, f.start));
            let json = match f.name {
                MANIFEST => narrow_manifest(&f.json, &want),
                _ => narrow_index(&f.json, &want),
            };
            parts.push(Part::Bytes(entry(f.name, &json)));
            at = f.end;
        }
        parts.push(Part::Copy(at, u64::MAX));
        Narrowed {
            file,
            parts,
            current: 0,
            offset: 0,
        }
    }
}

fn narrow_manifest(json: &Value, want: &[String]) -> Value {
    let keep = |t: &Value| t.as_str().is_some_and(|t| want.contains(&canonical(t)));
    let entries = json.as_array().into_iter().flatten().filter_map(|e| {
        let tags: Vec<Value> = e
            .get("RepoTags")?
            .as_array()?
            .iter()
            .filter(|t| keep(t))
            .cloned()
            .collect();
        if tags.is_empty() {
            return None;
        }
        let mut e = e.clone();
        e["RepoTags"] = Value::Array(tags);
        Some(e)
    });
    Value::Array(entries.collect())
}

fn narrow_index(json: &Value, want: &[String]) -> Value {
    let mut out = json.clone();
    if let Some(list) = out.get_mut("manifests").and_then(Value::as_array_mut) {
        list.retain(|m| {
            m.pointer("/annotations/io.containerd.image.name")
                .and_then(Value::as_str)
                .is_some_and(|n| want.contains(&canonical(n)))
        });
    }
    out
}

/// One tar entry (a plain ustar header, the content, the padding) for a rewritten file.
fn entry(name: &str, json: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(json).unwrap_or_else(|_| b"[]".to_vec());
    let mut h = tar::Header::new_ustar();
    // The name is one of the two short constants: it fits the header.
    let _ = h.set_path(name);
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(&body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

enum Part {
    /// Bytes `from..to` of the original archive (`to` may be past its end).
    Copy(u64, u64),
    Bytes(Vec<u8>),
}

/// The narrowed archive as a reader: the original's bytes with the loader's files replaced.
pub struct Narrowed<R> {
    file: R,
    parts: Vec<Part>,
    current: usize,
    /// How far into the current part.
    offset: u64,
}

impl<R: Read + Seek> Read for Narrowed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(part) = self.parts.get(self.current) {
            let n = match part {
                Part::Bytes(bytes) => {
                    let rest = &bytes[usize::try_from(self.offset)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len())..];
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    n
                }
                Part::Copy(from, to) => {
                    let pos = from + self.offset;
                    let want = usize::try_from(to.saturating_sub(pos))
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    if want == 0 {
                        0
                    } else {
                        self.file.seek(SeekFrom::Start(pos))?;
                        self.file.read(&mut buf[..want])?
                    }
                }
            };
            if n > 0 {
                self.offset += n as u64;
                return Ok(n);
            }
            self.current += 1;
            self.offset = 0;
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// manifest.json as Podman 4.3 wrote it for two images (recorded).
    const PODMAN_MANIFEST: &str = r#"[{"Config":"3b74.json","RepoTags":["127.0.0.1:5000/onramp-test/redis:7"],"Layers":["b013/layer.tar"]},{"Config":"0759.json","RepoTags":["127.0.0.1:5000/onramp-test/postgres:15"],"Layers":["b013/layer.tar"]}]"#;

    fn builder() -> tar::Builder<Vec<u8>> {
        tar::Builder::new(Vec::new())
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    }

    /// An entry whose ustar name says one thing and whose PAX `path` says another.
    fn pax_file(b: &mut tar::Builder<Vec<u8>>, ustar: &str, pax: &str, data: &[u8]) {
        b.append_pax_extensions([("path", pax.as_bytes())]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path(ustar).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn two_images() -> Vec<u8> {
        let mut b = builder();
        file(&mut b, "b013/layer.tar", &[7u8; 1500]);
        file(&mut b, "3b74.json", b"{}");
        file(&mut b, "manifest.json", PODMAN_MANIFEST.as_bytes());
        file(&mut b, "repositories", b"{}");
        b.into_inner().unwrap()
    }

    fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data)
            })
            .collect()
    }

    #[test]
    fn tags_come_from_the_manifest_after_the_layers() {
        let a = read(&mut Cursor::new(two_images())).unwrap();
        assert_eq!(
            a.tags,
            [
                "127.0.0.1:5000/onramp-test/redis:7",
                "127.0.0.1:5000/onramp-test/postgres:15"
            ]
        );
    }

    #[test]
    fn names_are_read_as_the_engine_reads_them_pax_path_first() {
        // A decoy whose ustar name is manifest.json but whose PAX path is not, then the real
        // one under a PAX path (its ustar name says something else).
        let mut b = builder();
        pax_file(
            &mut b,
            "manifest.json",
            "decoy.json",
            br#"[{"RepoTags":["decoy:1"]}]"#,
        );
        pax_file(
            &mut b,
            "x",
            "./sub/../manifest.json",
            br#"[{"RepoTags":["real:1"]}]"#,
        );
        let a = read(&mut Cursor::new(b.into_inner().unwrap())).unwrap();
        assert_eq!(a.tags, ["real:1"]);
    }

    #[test]
    fn an_ambiguous_manifest_is_refused() {
        let mut b = builder();
        file(&mut b, "manifest.json", br#"[{"RepoTags":["a:1"]}]"#);
        file(&mut b, "./manifest.json", br#"[{"RepoTags":["b:1"]}]"#);
        let e = read(&mut Cursor::new(b.into_inner().unwrap())).unwrap_err();
        assert!(matches!(e, ArchiveError::Ambiguous(_)), "{e}");
        let mut b = builder();
        file(&mut b, "other.json", b"[]");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "manifest.json", "other.json")
            .unwrap();
        let e = read(&mut Cursor::new(b.into_inner().unwrap())).unwrap_err();
        assert!(e.to_string().contains("link"), "{e}");
    }

    #[test]
    fn files_that_are_not_image_archives_are_named_so() {
        let mut b = builder();
        file(&mut b, "hello.txt", b"hi");
        assert_eq!(
            read(&mut Cursor::new(b.into_inner().unwrap())).unwrap_err(),
            ArchiveError::NoManifest
        );
        for junk in [b"just some text".to_vec(), vec![b'x'; 2048], Vec::new()] {
            assert!(matches!(
                read(&mut Cursor::new(junk)),
                Err(ArchiveError::NotTar(_))
            ));
        }
        let mut b = builder();
        file(&mut b, "manifest.json", b"{not json");
        assert!(matches!(
            read(&mut Cursor::new(b.into_inner().unwrap())),
            Err(ArchiveError::BadManifest(..))
        ));
    }

    #[test]
    fn the_narrowed_archive_names_only_the_wanted_images_and_keeps_the_rest_byte_for_byte() {
        let bytes = two_images();
        let a = read(&mut Cursor::new(bytes.clone())).unwrap();
        let wanted = vec!["127.0.0.1:5000/onramp-test/redis:7".to_string()];
        assert_eq!(
            a.others(&wanted),
            ["127.0.0.1:5000/onramp-test/postgres:15"]
        );
        let mut out = Vec::new();
        a.narrowed(Cursor::new(bytes.clone()), &wanted)
            .read_to_end(&mut out)
            .unwrap();
        let before = entries(&bytes);
        let after = entries(&out);
        assert_eq!(
            after.iter().map(|e| &e.0).collect::<Vec<_>>(),
            before.iter().map(|e| &e.0).collect::<Vec<_>>()
        );
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            if name == "manifest.json" {
                let m: Value = serde_json::from_slice(new).unwrap();
                assert_eq!(m.as_array().unwrap().len(), 1);
                assert_eq!(m[0]["RepoTags"], serde_json::json!(wanted));
                assert_eq!(m[0]["Config"], "3b74.json", "the rest of the entry is kept");
            } else {
                assert_eq!(old, new, "{name}");
            }
        }
        let again = read(&mut Cursor::new(out)).unwrap();
        assert_eq!(again.tags, wanted);
    }

    #[test]
    fn an_oci_index_is_narrowed_too() {
        let mut b = builder();
        file(
            &mut b,
            "manifest.json",
            br#"[{"RepoTags":["redis:7","evil:1"]}]"#,
        );
        let index = r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:a","annotations":{"io.containerd.image.name":"docker.io/library/redis:7"}},{"digest":"sha256:b","annotations":{"io.containerd.image.name":"docker.io/library/other:2"}}]}"#;
        file(&mut b, "index.json", index.as_bytes());
        let bytes = b.into_inner().unwrap();
        let a = read(&mut Cursor::new(bytes.clone())).unwrap();
        assert_eq!(
            a.others(&["redis:7".into()]),
            ["evil:1", "docker.io/library/other:2"]
        );
        let mut out = Vec::new();
        a.narrowed(Cursor::new(bytes), &["redis:7".into()])
            .read_to_end(&mut out)
            .unwrap();
        let again = read(&mut Cursor::new(out)).unwrap();
        assert_eq!(again.tags, ["redis:7"]);
    }
}
