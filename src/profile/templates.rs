//! The templates compiled into onramp, by name: a profile's `files` may name one, and the
//! generator renders it.

const EMBEDDED: &[(&str, &str)] = &[
    (
        "windows_patch.py",
        include_str!("../../templates/windows_patch.py"),
    ),
    (
        "docker-compose.test.yml",
        include_str!("../../templates/docker-compose.test.yml"),
    ),
    ("env", include_str!("../../templates/env")),
];

/// Whether `name` is one of the templates compiled into onramp.
pub fn is_embedded(name: &str) -> bool {
    EMBEDDED.iter().any(|(n, _)| *n == name)
}

/// The text of the embedded template `name`.
pub fn embedded_template(name: &str) -> Option<&'static str> {
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
