//! RFC 4180 CSV lines: a field is quoted when it holds a comma, a quote, CR or LF, with inner
//! quotes doubled, so any text survives a round trip through a CSV reader.

use std::borrow::Cow;

/// Quotes a field when it holds a comma, quote, CR or LF (RFC 4180), doubling inner quotes.
pub fn csv_field(value: &str) -> Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

/// One CSV line with its `\n`: every field through [`csv_field`], joined by commas.
pub fn csv_record<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&csv_field(field));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Vec<String> {
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        record.iter().map(str::to_string).collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_record(["a", "b,c", ""]), "a,\"b,c\",\n");
    }

    #[test]
    fn hostile_fields_round_trip_through_a_csv_reader() {
        let fields = [
            "r1",
            "",
            "\"",
            "\"\"",
            ",",
            "a\r\nb",
            "\r",
            "x\"y,z\n",
            " lead and trail ",
            "üñí©ødé",
        ];
        assert_eq!(parse(&csv_record(fields)), fields);
    }
}
