#include "cli/parleyctl/csv.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/status.h"

namespace parley::cli {
namespace {

absl::Status ErrorAt(std::string_view source, int line, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(source), ":", line, ": ", AbslView(problem)));
}

bool IsBlank(const std::vector<std::string>& fields) {
  return fields.size() == 1 && absl::StripAsciiWhitespace(fields[0]).empty();
}

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(std::string_view text, std::string_view source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRecord> records;
  size_t i = 0;
  int line = 1;
  while (i < text.size()) {
    CsvRecord record{.line = line, .fields = {}};
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      if (i < text.size() && text[i] == '"') {
        const int opened = line;
        ++i;
        bool closed = false;
        while (i < text.size()) {
          char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
              continue;
            }
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (!closed) return ErrorAt(source, opened, "unterminated quoted field");
        if (i < text.size() && text[i] == '\r') ++i;
        if (i < text.size() && text[i] != ',' && text[i] != '\n') {
          return ErrorAt(source, line, "unexpected character after a closing quote");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n') field += text[i++];
        if (!field.empty() && field.back() == '\r') field.pop_back();
      }
      record.fields.push_back(std::move(field));
      field.clear();
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // '\n'
        ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (!IsBlank(record.fields)) records.push_back(std::move(record));
  }
  if (records.empty()) return ErrorAt(source, 1, "empty file: want a header line of column names");

  CsvTable table;
  std::set<std::string> seen;
  for (const std::string& name : records[0].fields) {
    std::string column(absl::StripAsciiWhitespace(name));
    if (column.empty()) return ErrorAt(source, records[0].line, "header: empty column name");
    if (!seen.insert(column).second) {
      return ErrorAt(source, records[0].line,
                     absl::StrCat("header: column \"", column, "\" appears twice"));
    }
    table.header.push_back(std::move(column));
  }
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].fields.size() != table.header.size()) {
      return ErrorAt(source, records[r].line,
                     absl::StrCat(records[r].fields.size(), " fields, but the header has ",
                                  table.header.size()));
    }
    table.rows.push_back(std::move(records[r]));
  }
  return table;
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

}  // namespace parley::cli
