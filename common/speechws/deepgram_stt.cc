#include "common/speechws/deepgram_stt.h"

#include "absl/strings/str_cat.h"
#include "common/speechws/ws_stt_session.h"
#include "common/status/status.h"

namespace parley::speechws {
namespace {

class DeepgramSession final : public WsSttSession {
 public:
  DeepgramSession(std::unique_ptr<ws::WebSocketClient> ws, absl::Duration finalize_timeout)
      : WsSttSession(std::move(ws)), finalize_timeout_(finalize_timeout) {}
  ~DeepgramSession() override {
    // Deepgram bills the open stream: ask it to finish and close.
    ws().SendText(R"({"type":"CloseStream"})").IgnoreError();
  }

  absl::Status SetPhrases(const std::vector<std::string>&) override {
    // Keyterms are connection parameters; a node change cannot alter them mid-stream.
    return absl::OkStatus();
  }
  absl::Status StartUtterance() override {
    PARLEY_RETURN_IF_ERROR(Pump());
    finals_.clear();
    interim_.clear();
    finalized_ = false;
    return absl::OkStatus();
  }
  absl::Status Push(std::span<const int16_t> pcm) override {
    PARLEY_RETURN_IF_ERROR(Pump());
    return ws().SendBinary(PcmBytes(pcm));
  }
  std::string Partial() override {
    Pump().IgnoreError();
    std::vector<std::string> all = finals_;
    all.push_back(interim_);
    return JoinWords(all);
  }
  absl::StatusOr<std::string> EndUtterance() override {
    PARLEY_RETURN_IF_ERROR(ws().SendText(R"({"type":"Finalize"})"));
    bool timed_out = false;
    PARLEY_RETURN_IF_ERROR(PumpUntil([this] { return finalized_; }, finalize_timeout_, &timed_out));
    std::vector<std::string> all = finals_;
    // No finalized result in time: the last interim hypothesis is the best there is.
    if (timed_out) all.push_back(interim_);
    finals_.clear();
    interim_.clear();
    return JoinWords(all);
  }

 private:
  absl::Status Handle(const ws::WsMessage& message) override {
    if (message.binary) return absl::OkStatus();
    nlohmann::json m = nlohmann::json::parse(message.data, nullptr, false);
    if (!m.is_object()) return absl::OkStatus();
    std::string type = m.value("type", "");
    if (type == "Results") {
      std::string transcript;
      const nlohmann::json& alternatives =
          m.value("channel", nlohmann::json::object()).value("alternatives", nlohmann::json());
      if (alternatives.is_array() && !alternatives.empty()) {
        transcript = alternatives[0].value("transcript", "");
      }
      if (m.value("is_final", false)) {
        finals_.push_back(transcript);
        interim_.clear();
      } else {
        interim_ = transcript;
      }
      if (m.value("from_finalize", false)) finalized_ = true;
    } else if (type == "Error") {
      return absl::UnavailableError(absl::StrCat(
          "deepgram: ", m.value("description", m.value("message", std::string("error")))));
    }
    // Metadata, SpeechStarted, UtteranceEnd: the pipeline's endpointer decides turns.
    return absl::OkStatus();
  }

  const absl::Duration finalize_timeout_;
  std::vector<std::string> finals_;
  std::string interim_;
  bool finalized_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<speech::SttSession>> DeepgramStt::StartSession(
    const speech::SttSessionOptions& session) {
  nlohmann::json query = options_.extra.is_object() ? options_.extra : nlohmann::json::object();
  query["encoding"] = "linear16";
  query["sample_rate"] = 16000;
  query["channels"] = 1;
  query["interim_results"] = true;
  query["endpointing"] = options_.endpointing_ms;
  if (!options_.model.empty()) query["model"] = options_.model;
  std::string language = session.language.empty() ? options_.language : session.language;
  if (!language.empty()) query["language"] = language;
  ws::WsOptions ws_options;
  ws_options.url = absl::StrCat(
      options_.url, options_.url.find('?') == std::string::npos ? "?" : "&", QueryFromJson(query));
  ws_options.headers = {{"Authorization", absl::StrCat("Token ", options_.api_key)}};
  ws_options.connect_timeout = options_.connect_timeout;
  ws_options.ca_file = options_.ca_file;
  ws_options.keepalive_text = R"({"type":"KeepAlive"})";
  ws_options.keepalive_interval = options_.keepalive_interval;
  absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> ws =
      ws::WebSocketClient::Connect(std::move(ws_options));
  if (!ws.ok()) {
    return absl::Status(ws.status().code(), absl::StrCat("deepgram: ", ws.status().message()));
  }
  return std::unique_ptr<speech::SttSession>(
      std::make_unique<DeepgramSession>(std::move(*ws), options_.finalize_timeout));
}

}  // namespace parley::speechws
