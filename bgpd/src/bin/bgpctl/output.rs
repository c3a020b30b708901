//! Writing answers: aligned tables and "Label: value" blocks for people, and
//! JSON in the proto3 JSON mapping for scripts.
//!
//! The JSON is made from the descriptor set that `ironlb-proto` embeds (the
//! one server reflection serves): each prost message is re-read as a dynamic
//! message and serialised by prost-reflect, which implements the canonical
//! mapping, so field names are lowerCamelCase, enums are their names and
//! 64-bit numbers are strings — exactly what grpcurl prints for the same
//! call (with `-emit-defaults`: fields at their default value are written
//! too, so that scripts never meet a missing key for a zero).
//!
//! Every write goes through `io::Write` and returns its error: `println!`
//! would panic on a closed stdout.

use std::io::{self, BufWriter, Stdout, Write};

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::cli::Format;
use crate::error::CtlError;

/// Where and how a command prints.
pub struct Output {
    pub format: Format,
    writer: BufWriter<Stdout>,
    pool: Option<DescriptorPool>,
}

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: a header row and rows of cells, printed with aligned columns
/// separated by two spaces, without trailing blanks.
#[derive(Debug, Default)]
pub struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table { columns: columns.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Drops a column that no row has a value in (optional columns).
    pub fn drop_empty_column(&mut self, index: usize) {
        if index < self.columns.len()
            && self.rows.iter().all(|row| row.get(index).is_none_or(String::is_empty))
        {
            self.columns.remove(index);
            for row in &mut self.rows {
                if index < row.len() {
                    row.remove(index);
                }
            }
        }
    }

    /// The table as text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(name, _)| name.len()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        let header: Vec<String> = self.columns.iter().map(|(name, _)| name.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, ((_, align), width)) in self.columns.iter().zip(&widths).enumerate() {
                let cell = row.get(index).map_or("", String::as_str);
                if index > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                if *align == Align::Right {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.push_str(cell);
                if *align == Align::Left {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

/// "Label: value" lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(label, _)| label.len() + 1).max().unwrap_or(0);
    let mut text = String::new();
    for (label, value) in pairs {
        let line = format!("{:<width$} {value}", format!("{label}:"));
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

impl Output {
    pub fn new(format: Format) -> Self {
        Output { format, writer: BufWriter::new(io::stdout()), pool: None }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Writes text as is.
    pub fn text(&mut self, text: &str) -> Result<(), CtlError> {
        self.writer.write_all(text.as_bytes())?;
        Ok(())
    }

    /// Writes `message` (of the proto type `name`, "GetInfoResponse") as one
    /// pretty-printed JSON document, fields in .proto order as grpcurl has them.
    pub fn json<M: prost::Message>(
        &mut self,
        name: &'static str,
        message: &M,
    ) -> Result<(), CtlError> {
        let dynamic = self.dynamic(name, message)?;
        serde_json::to_writer_pretty(&mut self.writer, &Json(&dynamic))
            .map_err(|error| write_error(name, error))?;
        self.writer.write_all(b"\n")?;
        Ok(())
    }

    /// Writes one compact JSON object on its own line and flushes it, for
    /// streams read line by line.
    pub fn json_line<M: prost::Message>(
        &mut self,
        name: &'static str,
        message: &M,
    ) -> Result<(), CtlError> {
        let dynamic = self.dynamic(name, message)?;
        serde_json::to_writer(&mut self.writer, &Json(&dynamic))
            .map_err(|error| write_error(name, error))?;
        self.writer.write_all(b"\n")?;
        self.flush()
    }

    /// Writes several messages as one document: `{"key": [ ... ]}`.
    pub fn json_list<M: prost::Message>(
        &mut self,
        key: &'static str,
        name: &'static str,
        messages: &[M],
    ) -> Result<(), CtlError> {
        let mut items = Vec::with_capacity(messages.len());
        for message in messages {
            items.push(self.dynamic(name, message)?);
        }
        serde_json::to_writer_pretty(&mut self.writer, &JsonList { key, items: &items })
            .map_err(|error| write_error(name, error))?;
        self.writer.write_all(b"\n")?;
        Ok(())
    }

    /// The proto3 JSON form of `message`, as a value (for tests).
    #[cfg(test)]
    pub fn json_value<M: prost::Message>(
        &mut self,
        name: &'static str,
        message: &M,
    ) -> Result<serde_json::Value, CtlError> {
        let dynamic = self.dynamic(name, message)?;
        serde_json::to_value(Json(&dynamic)).map_err(|error| json_error(name, error))
    }

    /// `message` re-read as a dynamic message of the proto type `name`.
    fn dynamic<M: prost::Message>(
        &mut self,
        name: &'static str,
        message: &M,
    ) -> Result<DynamicMessage, CtlError> {
        let pool = match &mut self.pool {
            Some(pool) => pool,
            None => {
                let pool = DescriptorPool::decode(ironlb_proto::FILE_DESCRIPTOR_SET)
                    .map_err(|error| json_error(name, error))?;
                self.pool.insert(pool)
            }
        };
        let full_name = format!("ironlb.bgpd.v1.{name}");
        let descriptor = pool.get_message_by_name(&full_name).ok_or(CtlError::Json {
            message: name,
            reason: "not in the descriptor set".to_string(),
        })?;
        DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .map_err(|error| json_error(name, error))
    }

    pub fn flush(&mut self) -> Result<(), CtlError> {
        self.writer.flush()?;
        Ok(())
    }
}

/// The options of the proto3 JSON mapping, defaults written.
const OPTIONS: SerializeOptions = SerializeOptions::new().skip_default_fields(false);

/// Serialises a dynamic message with [`OPTIONS`] straight into the writer,
/// keeping the .proto field order.
struct Json<'a>(&'a DynamicMessage);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_with_options(serializer, &OPTIONS)
    }
}

/// `{"key": [message, ...]}`.
struct JsonList<'a> {
    key: &'static str,
    items: &'a [DynamicMessage],
}

impl Serialize for JsonList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &JsonItems(self.items))?;
        map.end()
    }
}

struct JsonItems<'a>(&'a [DynamicMessage]);

impl Serialize for JsonItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Json))
    }
}

/// A failed JSON write: a failure of stdout stays an output error (so a
/// closed pipe ends quietly); anything else is a JSON error.
fn write_error(name: &'static str, error: serde_json::Error) -> CtlError {
    if error.is_io() { CtlError::Output(io::Error::from(error)) } else { json_error(name, error) }
}

fn json_error(name: &'static str, error: impl std::fmt::Display) -> CtlError {
    CtlError::Json { message: name, reason: error.to_string() }
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1;

    use super::*;

    #[test]
    fn tables_align_columns_and_trim_lines() {
        let mut table =
            Table::new(&[("Name", Align::Left), ("Count", Align::Right), ("Note", Align::Left)]);
        table.row(vec!["a".into(), "1".into(), "".into()]);
        table.row(vec!["longer".into(), "1000".into(), "x".into()]);
        assert_eq!(
            table.render(),
            "Name    Count  Note\n\
             a           1\n\
             longer   1000  x\n"
        );
    }

    #[test]
    fn empty_optional_columns_are_dropped() {
        let mut table = Table::new(&[("A", Align::Left), ("B", Align::Left), ("C", Align::Left)]);
        table.row(vec!["1".into(), "".into(), "3".into()]);
        table.drop_empty_column(1);
        assert_eq!(table.render(), "A  C\n1  3\n");
        table.drop_empty_column(7);
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(
            fields(&[("AS", "1".into()), ("Router ID", "x".into())]),
            "AS:        1\nRouter ID: x\n"
        );
    }

    #[test]
    fn json_follows_the_proto3_mapping() {
        let mut output = Output::new(Format::Json);
        let info = v1::GetInfoResponse {
            asn: 65001,
            router_id: "192.0.2.1".into(),
            uptime_seconds: 5,
            ..Default::default()
        };
        let value = output.json_value("GetInfoResponse", &info).expect("json");
        assert_eq!(value["asn"], 65001);
        assert_eq!(value["routerId"], "192.0.2.1");
        assert_eq!(value["uptimeSeconds"], "5", "64-bit numbers are strings");
        assert_eq!(value["ownerCount"], 0, "defaults are written");
        let peer = v1::PeerStatus { state: v1::SessionState::Active as i32, ..Default::default() };
        let value = output.json_value("PeerStatus", &peer).expect("json");
        assert_eq!(value["state"], "SESSION_STATE_ACTIVE");
        assert!(output.json_value("NoSuchMessage", &peer).is_err());
    }
}
