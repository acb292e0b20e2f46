// A small RFC 4180 CSV reader for `parleyctl call batch`: quoted fields (with "" for a quote and
// line breaks inside quotes), CRLF or LF line ends, a UTF-8 byte-order mark ignored, blank lines
// skipped. Every record remembers the line it starts on, so errors and results can point at it.
//
//   PARLEY_ASSIGN_OR_RETURN(CsvTable table, ParseCsv(text, "calls.csv"));
//   table.header  → {"number", "customer_name"}
//   table.rows[0].line → 2, table.rows[0].fields → {"+14155550100", "Ada"}
//
//   std::string line = CsvLine({"1", "+14155550100", "said \"hi\""});  // 1,+14155550100,"said
//   ""hi"""
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace parley::cli {

struct CsvRecord {
  int line = 0;  // 1-based line of the file the record starts on
  std::vector<std::string> fields;
};

struct CsvTable {
  std::vector<std::string> header;  // the first record, fields trimmed of surrounding spaces
  std::vector<CsvRecord> rows;      // every later non-blank record
};

// Parses `text`; `source` names it in errors. Fails with INVALID_ARGUMENT
// "<source>:<line>: <problem>" for a quoted field that is never closed (the line where it opens),
// a character after a closing quote other than a comma or line end, a record whose field count
// differs from the header's, an empty text (no header), or a header with an empty or repeated
// column name.
absl::StatusOr<CsvTable> ParseCsv(std::string_view text, std::string_view source);

// One CSV line (without the line end) holding `fields`, each quoted when it needs to be.
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace parley::cli
