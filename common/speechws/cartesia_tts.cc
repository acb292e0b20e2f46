#include "common/speechws/cartesia_tts.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/speechws/ws_stt_session.h"
#include "common/status/status.h"

namespace parley::speechws {

CartesiaTts::~CartesiaTts() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(preconnects_);
  }
  for (std::thread& t : threads) t.join();
}

absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> CartesiaTts::Connect() const {
  ws::WsOptions ws_options;
  ws_options.url = options_.url;
  ws_options.headers = {{"X-API-Key", options_.api_key}, {"Cartesia-Version", options_.version}};
  ws_options.connect_timeout = options_.connect_timeout;
  ws_options.ca_file = options_.ca_file;
  absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> ws =
      ws::WebSocketClient::Connect(std::move(ws_options));
  if (!ws.ok()) {
    return absl::Status(ws.status().code(), absl::StrCat("cartesia: ", ws.status().message()));
  }
  return ws;
}

void CartesiaTts::Preconnect() {
  absl::MutexLock lock(&mu_);
  if (!idle_.empty() || preconnecting_) return;
  // The previous preconnect thread has finished its work (preconnecting_ is false) and needs
  // nothing more from mu_: reap it so threads do not pile up over a worker's life.
  for (std::thread& t : preconnects_) t.join();
  preconnects_.clear();
  preconnecting_ = true;
  preconnects_.emplace_back([this] {
    absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> ws = Connect();
    if (ws.ok()) Release(std::move(*ws));
    absl::MutexLock lock(&mu_);
    preconnecting_ = false;
  });
}

int CartesiaTts::idle_connections() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(idle_.size());
}

std::unique_ptr<ws::WebSocketClient> CartesiaTts::TakeIdle() {
  absl::MutexLock lock(&mu_);
  // A connection being opened is sooner ready than a new one (bounded by connect_timeout).
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !preconnecting_; };
  mu_.Await(absl::Condition(&settled));
  while (!idle_.empty()) {
    std::unique_ptr<ws::WebSocketClient> ws = std::move(idle_.back());
    idle_.pop_back();
    if (ws->open()) return ws;
  }
  return nullptr;
}

void CartesiaTts::Release(std::unique_ptr<ws::WebSocketClient> ws) {
  if (ws == nullptr || !ws->open()) return;
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
    idle_.push_back(std::move(ws));
  }
}

absl::Status CartesiaTts::Synthesize(std::string_view text,
                                     absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                                     const speech::CancelFlag* cancel) {
  if (options_.voice.empty()) return absl::FailedPreconditionError("cartesia: no voice id");
  for (int attempt = 0;; ++attempt) {
    if (cancel != nullptr && cancel->cancelled())
      return absl::CancelledError("synthesis cancelled");
    std::unique_ptr<ws::WebSocketClient> ws = TakeIdle();
    bool pooled = ws != nullptr;
    if (!pooled) {
      PARLEY_ASSIGN_OR_RETURN(ws, Connect());
    }
    bool delivered = false;
    absl::Status status;
    try {
      status = Generate(*ws, text, on_audio, cancel, &delivered);
    } catch (const nlohmann::json::exception& e) {
      ws->Close(absl::ZeroDuration());
      status = absl::UnavailableError(absl::StrCat("cartesia: malformed message: ", e.what()));
    }
    bool connection_lost = !ws->open();
    Release(std::move(ws));
    // A warm connection the server dropped while idle: one retry on a fresh one.
    if (connection_lost && pooled && !delivered && attempt == 0 &&
        status.code() == absl::StatusCode::kUnavailable) {
      continue;
    }
    return status;
  }
}

absl::Status CartesiaTts::Generate(ws::WebSocketClient& ws, std::string_view text,
                                   absl::FunctionRef<void(std::span<const int16_t>)> on_audio,
                                   const speech::CancelFlag* cancel, bool* delivered) {
  std::string context_id = RandomId();
  nlohmann::json request = options_.extra.is_object() ? options_.extra : nlohmann::json::object();
  request["model_id"] = options_.model;
  request["transcript"] = std::string(text);
  request["voice"] = {{"mode", "id"}, {"id", options_.voice}};
  request["language"] = options_.language;
  request["context_id"] = context_id;
  request["output_format"] = {
      {"container", "raw"}, {"encoding", "pcm_s16le"}, {"sample_rate", 16000}};
  request["continue"] = false;
  PARLEY_RETURN_IF_ERROR(ws.SendText(request.dump()));
  std::string carry;  // an odd byte left from the previous chunk
  for (;;) {
    absl::StatusOr<ws::WsMessage> message = ws.Read(options_.chunk_timeout, cancel);
    if (message.status().code() == absl::StatusCode::kCancelled) {
      // Barge-in: stop the generation upstream, keep the connection.
      nlohmann::json stop = {{"context_id", context_id}, {"cancel", true}};
      ws.SendText(stop.dump()).IgnoreError();
      return absl::CancelledError("synthesis cancelled");
    }
    if (message.status().code() == absl::StatusCode::kDeadlineExceeded) {
      ws.Close(absl::ZeroDuration());  // its state is unknown: do not reuse it
      return absl::DeadlineExceededError("cartesia: no audio in time");
    }
    if (!message.ok()) {
      return absl::Status(message.status().code(),
                          absl::StrCat("cartesia: ", message.status().message()));
    }
    if (message->binary) continue;
    nlohmann::json m = nlohmann::json::parse(message->data, nullptr, false);
    if (!m.is_object()) continue;
    if (m.value("context_id", "") != context_id) continue;  // a cancelled generation's tail
    std::string type = m.value("type", "");
    if (type == "chunk") {
      std::string bytes;
      if (!absl::Base64Unescape(m.value("data", ""), &bytes)) {
        return absl::UnavailableError("cartesia: chunk is not base64");
      }
      bytes.insert(0, carry);
      carry.clear();
      if (bytes.size() % 2 != 0) {
        carry = bytes.substr(bytes.size() - 1);
        bytes.pop_back();
      }
      std::vector<int16_t> pcm(bytes.size() / 2);
      for (size_t i = 0; i < pcm.size(); ++i) {
        pcm[i] = static_cast<int16_t>(static_cast<uint8_t>(bytes[2 * i]) |
                                      (static_cast<uint8_t>(bytes[2 * i + 1]) << 8));
      }
      if (!pcm.empty()) {
        *delivered = true;
        on_audio(pcm);
      }
    } else if (type == "done") {
      return absl::OkStatus();
    } else if (type == "error") {
      std::string error = m.contains("error") && m["error"].is_string()
                              ? m["error"].get<std::string>()
                              : m.value("message", m.value("title", std::string("error")));
      int code = m.contains("status_code") && m["status_code"].is_number_integer()
                     ? m["status_code"].get<int>()
                     : 500;
      return StatusFromHttpCode(code, absl::StrCat("cartesia: ", error));
    }
    // timestamps, flush_done: not used.
  }
}

}  // namespace parley::speechws
