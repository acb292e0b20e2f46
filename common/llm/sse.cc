#include "common/llm/sse.h"

#include <utility>

namespace parley::llm {

absl::Status SseParser::Feed(std::string_view bytes,
                             absl::FunctionRef<void(const SseEvent&)> on_event) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes[i] == '\n') {
        ++i;
        continue;
      }
    }
    // Copy the run up to the next line end in one go: events are mostly one long data line.
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    line_.append(bytes.data() + i, end - i);
    if (line_.size() > options_.max_event_bytes) {
      return absl::ResourceExhaustedError("server-sent event line too long");
    }
    i = end;
    if (i == bytes.size()) break;
    skip_lf_ = bytes[i] == '\r';
    ++i;
    ProcessLine(on_event);
    line_.clear();
    if (event_.data.size() > options_.max_event_bytes) {
      return absl::ResourceExhaustedError("server-sent event too large");
    }
  }
  return absl::OkStatus();
}

void SseParser::ProcessLine(absl::FunctionRef<void(const SseEvent&)> on_event) {
  std::string_view line(line_);
  if (line.empty()) {
    // End of an event. Per the spec an event with no data line is dropped (its fields reset).
    if (has_data_) on_event(event_);
    event_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment
  std::string_view view = line;
  std::string_view field = view;
  std::string_view value;
  if (size_t colon = view.find(':'); colon != std::string_view::npos) {
    field = view.substr(0, colon);
    value = view.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data.push_back('\n');
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.event = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) event_.id = std::string(value);
  }
  // `retry:` and unknown fields are ignored: the caller does not reconnect.
}

}  // namespace parley::llm
