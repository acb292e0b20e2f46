#include "common/speechws/assemblyai_stt.h"

#include "absl/strings/str_cat.h"
#include "common/speechws/ws_stt_session.h"
#include "common/status/status.h"

namespace parley::speechws {
namespace {

// AssemblyAI refuses audio messages shorter than 50 ms: 800 samples at 16 kHz.
constexpr size_t kMinChunkSamples = 800;

class AssemblyAiSession final : public WsSttSession {
 public:
  AssemblyAiSession(std::unique_ptr<ws::WebSocketClient> ws, bool format_turns,
                    absl::Duration finalize_timeout)
      : WsSttSession(std::move(ws)),
        format_turns_(format_turns),
        finalize_timeout_(finalize_timeout) {}
  ~AssemblyAiSession() override {
    // Sessions are billed while open: end it explicitly.
    ws().SendText(R"({"type":"Terminate"})").IgnoreError();
  }

  absl::Status WaitForBegin(absl::Duration timeout) {
    bool timed_out = false;
    PARLEY_RETURN_IF_ERROR(PumpUntil([this] { return begun_; }, timeout, &timed_out));
    if (timed_out) return absl::DeadlineExceededError("assemblyai: no Begin message");
    return absl::OkStatus();
  }

  absl::Status SetPhrases(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status StartUtterance() override {
    PARLEY_RETURN_IF_ERROR(Pump());
    turns_.clear();
    current_.clear();
    ended_ = false;
    return absl::OkStatus();
  }
  absl::Status Push(std::span<const int16_t> pcm) override {
    PARLEY_RETURN_IF_ERROR(Pump());
    pending_.insert(pending_.end(), pcm.begin(), pcm.end());
    if (pending_.size() < kMinChunkSamples) return absl::OkStatus();
    return Flush();
  }
  std::string Partial() override {
    Pump().IgnoreError();
    std::vector<std::string> all = turns_;
    all.push_back(current_);
    return JoinWords(all);
  }
  absl::StatusOr<std::string> EndUtterance() override {
    if (!pending_.empty()) {
      pending_.resize(std::max(pending_.size(), kMinChunkSamples), 0);  // pad with silence
      PARLEY_RETURN_IF_ERROR(Flush());
    }
    ended_ = false;
    PARLEY_RETURN_IF_ERROR(ws().SendText(R"({"type":"ForceEndpoint"})"));
    bool timed_out = false;
    PARLEY_RETURN_IF_ERROR(PumpUntil([this] { return ended_; }, finalize_timeout_, &timed_out));
    std::vector<std::string> all = turns_;
    if (timed_out) all.push_back(current_);
    turns_.clear();
    current_.clear();
    return JoinWords(all);
  }

 private:
  absl::Status Flush() {
    absl::Status sent = ws().SendBinary(PcmBytes(pending_));
    pending_.clear();
    return sent;
  }

  absl::Status Handle(const ws::WsMessage& message) override {
    if (message.binary) return absl::OkStatus();
    nlohmann::json m = nlohmann::json::parse(message.data, nullptr, false);
    if (!m.is_object()) return absl::OkStatus();
    if (m.contains("error")) {
      return absl::UnavailableError(absl::StrCat("assemblyai: ", m["error"].is_string()
                                                                     ? m["error"].get<std::string>()
                                                                     : m["error"].dump()));
    }
    std::string type = m.value("type", "");
    if (type == "Begin") {
      begun_ = true;
    } else if (type == "Turn") {
      std::string transcript = m.value("transcript", "");
      bool end = m.value("end_of_turn", false);
      bool formatted = m.value("turn_is_formatted", false);
      // With format_turns the unformatted end_of_turn is followed by the formatted one.
      if (end && (formatted || !format_turns_)) {
        turns_.push_back(transcript);
        current_.clear();
        ended_ = true;
      } else {
        current_ = transcript;
      }
    } else if (type == "Termination") {
      return absl::UnavailableError("assemblyai: session terminated");
    }
    return absl::OkStatus();
  }

  const bool format_turns_;
  const absl::Duration finalize_timeout_;
  bool begun_ = false;
  std::vector<int16_t> pending_;
  std::vector<std::string> turns_;
  std::string current_;
  bool ended_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<speech::SttSession>> AssemblyAiStt::StartSession(
    const speech::SttSessionOptions&) {
  nlohmann::json query = options_.extra.is_object() ? options_.extra : nlohmann::json::object();
  query["sample_rate"] = 16000;
  query["encoding"] = "pcm_s16le";
  query["format_turns"] = options_.format_turns;
  if (!options_.speech_model.empty()) query["speech_model"] = options_.speech_model;
  ws::WsOptions ws_options;
  ws_options.url = absl::StrCat(
      options_.url, options_.url.find('?') == std::string::npos ? "?" : "&", QueryFromJson(query));
  ws_options.headers = {{"Authorization", options_.api_key}};
  ws_options.connect_timeout = options_.connect_timeout;
  ws_options.ca_file = options_.ca_file;
  absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> ws =
      ws::WebSocketClient::Connect(std::move(ws_options));
  if (!ws.ok()) {
    return absl::Status(ws.status().code(), absl::StrCat("assemblyai: ", ws.status().message()));
  }
  auto session = std::make_unique<AssemblyAiSession>(std::move(*ws), options_.format_turns,
                                                     options_.finalize_timeout);
  PARLEY_RETURN_IF_ERROR(session->WaitForBegin(options_.connect_timeout));
  return std::unique_ptr<speech::SttSession>(std::move(session));
}

}  // namespace parley::speechws
