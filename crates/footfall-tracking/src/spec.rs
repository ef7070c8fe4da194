//! The `NAME=N1,N2,...` syntax shared by `--line` and `--zone`.

/// Longest accepted line or zone name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A `--line` or `--zone` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("expected NAME=numbers, found no '=' in {0:?}")]
    NoEquals(String),
    #[error("the name is empty")]
    EmptyName,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("the name contains a control character")]
    ControlChar,
    #[error("{0:?} is not a finite number")]
    BadNumber(String),
    #[error("expected {expected}, got {got} numbers")]
    Count { expected: &'static str, got: usize },
    #[error("{0}")]
    Degenerate(&'static str),
}

/// Splits `NAME=N1,N2,...` into the trimmed name and the numbers.
pub(crate) fn parse_named_numbers(s: &str) -> Result<(String, Vec<f32>), ParseError> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| ParseError::NoEquals(s.to_string()))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ParseError::NameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(ParseError::ControlChar);
    }
    let numbers = rest
        .split(',')
        .map(|v| {
            let v = v.trim();
            v.parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ParseError::BadNumber(v.to_string()))
        })
        .collect::<Result<Vec<f32>, _>>()?;
    Ok((name.to_string(), numbers))
}
