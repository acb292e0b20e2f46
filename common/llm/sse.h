// Splits a Server-Sent Events byte stream (the `text/event-stream` body of a streaming HTTP
// response) into events, following the WHATWG HTML "Server-sent events" parsing rules: lines end
// in LF, CRLF or a lone CR (a CRLF may be split across two reads); a blank line ends an event;
// lines starting with ':' are comments (keep-alives); `data:` lines of one event are joined with
// '\n'; one space after the colon is dropped; unknown fields are ignored; an event without data
// is not dispatched. Bytes may arrive in any split — mid-line, mid-CRLF, many events at once.
//
//   SseParser parser;
//   PARLEY_RETURN_IF_ERROR(parser.Feed(bytes_from_socket, [&](const SseEvent& event) {
//     if (event.data == "[DONE]") done = true; else HandleChunk(event.data);
//   }));
//
// Not thread-safe; one parser per stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace parley::llm {

struct SseEvent {
  std::string event;  // the `event:` field; empty means "message"
  std::string data;   // `data:` lines joined with '\n'
  std::string id;     // the `id:` field, if any
};

struct SseParserOptions {
  // Upper bound on one line and on one event's data, in bytes, so a broken server cannot make
  // the parser buffer without limit.
  size_t max_event_bytes = 4 << 20;
};

class SseParser final {
 public:
  explicit SseParser(const SseParserOptions& options = {}) : options_(options) {}

  // Parses the next bytes of the stream, calling `on_event` (synchronously, in order) for each
  // event they complete. Fails with RESOURCE_EXHAUSTED when a line or an event grows beyond
  // `max_event_bytes`; the parser must not be used after a failure.
  absl::Status Feed(std::string_view bytes, absl::FunctionRef<void(const SseEvent&)> on_event);

  // True when bytes of an unfinished event are buffered (a stream that ends now was cut short).
  bool HasPartialEvent() const { return !line_.empty() || has_data_ || !event_.event.empty(); }

 private:
  void ProcessLine(absl::FunctionRef<void(const SseEvent&)> on_event);

  const SseParserOptions options_;
  std::string line_;       // the current line, without its terminator
  bool skip_lf_ = false;   // the last byte was a CR: a following LF belongs to it
  bool has_data_ = false;  // the event has at least one data line
  SseEvent event_;         // the event being assembled
};

}  // namespace parley::llm
