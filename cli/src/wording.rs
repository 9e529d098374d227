//! The tool's own wording of library errors that name a way to fix them: the library names
//! an `ExportOptions` field or says "name its format"; the tool names its flag.

use sessiondb::Error;

/// The flag of the CLI that sets an `ExportOptions` field.
fn flag_of(option: &str) -> String {
    match option {
        "is_bot" => "--bot".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// `e` as the tool says it: one line, with the flag or command that fixes it.
pub fn message(e: &Error) -> String {
    match e {
        Error::MissingField {
            format,
            field,
            option,
        } => format!(
            "exporting to {format} needs the {field}, which this session does not have; \
             supply it with {}",
            flag_of(option)
        ),
        Error::AmbiguousFormat { candidates } => format!(
            "the input could be any of: {}; pass its format with --from",
            candidates.join(", ")
        ),
        Error::ForeignFormat { path, format, .. } => format!(
            "{} is a {format} session, not a sessiondb store; import it with `sessiondb \
             import {} <new store>`",
            path.display(),
            path.display()
        ),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_export_option_has_its_flag() {
        let flags: Vec<String> = ["api_id", "user_id", "is_bot", "dc", "dc_address"]
            .into_iter()
            .map(flag_of)
            .collect();
        assert_eq!(
            flags,
            ["--api-id", "--user-id", "--bot", "--dc", "--dc-address"]
        );
    }
}
