#include "common/speechws/whisperlive_stt.h"

#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/speechws/ws_stt_session.h"
#include "common/status/status.h"

namespace parley::speechws {
namespace {

constexpr double kSampleRate = 16000.0;

// WhisperLive formats times as strings ("1.280"); accept numbers too.
double Seconds(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  double out = 0;
  if (v.is_string() && absl::SimpleAtod(v.get<std::string>(), &out)) return out;
  return 0;
}

class WhisperLiveSession final : public WsSttSession {
 public:
  WhisperLiveSession(std::unique_ptr<ws::WebSocketClient> ws, const WhisperLiveSttOptions& options)
      : WsSttSession(std::move(ws)),
        final_timeout_(options.final_timeout),
        end_slack_(absl::ToDoubleSeconds(options.end_slack)) {}
  ~WhisperLiveSession() override { ws().SendBinary("END_OF_AUDIO").IgnoreError(); }

  absl::Status WaitForReady(absl::Duration timeout) {
    bool timed_out = false;
    PARLEY_RETURN_IF_ERROR(PumpUntil([this] { return ready_; }, timeout, &timed_out));
    if (timed_out) return absl::DeadlineExceededError("whisperlive: no SERVER_READY in time");
    return absl::OkStatus();
  }

  absl::Status SetPhrases(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::Status StartUtterance() override {
    PARLEY_RETURN_IF_ERROR(Pump());
    utterance_start_ = samples_ / kSampleRate;
    return absl::OkStatus();
  }
  absl::Status Push(std::span<const int16_t> pcm) override {
    PARLEY_RETURN_IF_ERROR(Pump());
    samples_ += static_cast<int64_t>(pcm.size());
    return ws().SendBinary(Float32Bytes(pcm));
  }
  std::string Partial() override {
    Pump().IgnoreError();
    return UtteranceText();
  }
  absl::StatusOr<std::string> EndUtterance() override {
    double end = samples_ / kSampleRate;
    PARLEY_RETURN_IF_ERROR(PumpUntil(
        [&] { return samples_ == 0 || latest_end_ >= end - end_slack_; }, final_timeout_));
    std::string text = UtteranceText();
    // The utterance's segments are done with; later updates may still resend them.
    for (auto it = segments_.begin(); it != segments_.end();) {
      it = it->first >= std::llround((utterance_start_ - 0.05) * 1000) ? segments_.erase(it)
                                                                       : std::next(it);
    }
    consumed_until_ = end;
    return text;
  }

 private:
  std::string UtteranceText() const {
    std::vector<std::string> pieces;
    for (const auto& [start_ms, text] : segments_) {
      if (start_ms >= std::llround((utterance_start_ - 0.05) * 1000)) pieces.push_back(text);
    }
    return JoinWords(pieces);
  }

  absl::Status Handle(const ws::WsMessage& message) override {
    if (message.binary) return absl::OkStatus();
    nlohmann::json m = nlohmann::json::parse(message.data, nullptr, false);
    if (!m.is_object()) return absl::OkStatus();
    std::string status = m.value("status", "");
    std::string text = m.contains("message") ? m["message"].dump() : "";
    if (m.contains("message") && m["message"].is_string()) text = m["message"].get<std::string>();
    if (status == "WAIT") {
      return absl::ResourceExhaustedError(
          absl::StrCat("whisperlive: server full, wait ", text, " minutes"));
    }
    if (status == "ERROR") return absl::UnavailableError(absl::StrCat("whisperlive: ", text));
    if (text == "SERVER_READY") ready_ = true;
    if (text == "DISCONNECT") return absl::UnavailableError("whisperlive: server disconnected");
    if (m.contains("segments") && m["segments"].is_array()) {
      for (const nlohmann::json& s : m["segments"]) {
        double start = Seconds(s.value("start", nlohmann::json()));
        double end = Seconds(s.value("end", nlohmann::json()));
        if (start < consumed_until_ - 0.05) continue;  // an earlier utterance's, resent
        segments_[std::llround(start * 1000)] = s.value("text", "");
        latest_end_ = std::max(latest_end_, end);
      }
    }
    return absl::OkStatus();
  }

  const absl::Duration final_timeout_;
  const double end_slack_;
  bool ready_ = false;
  int64_t samples_ = 0;
  double utterance_start_ = 0;
  double consumed_until_ = 0;
  double latest_end_ = 0;
  std::map<int64_t, std::string> segments_;  // by start in ms
};

}  // namespace

absl::StatusOr<std::unique_ptr<speech::SttSession>> WhisperLiveStt::StartSession(
    const speech::SttSessionOptions& session) {
  ws::WsOptions ws_options;
  ws_options.url = options_.url;
  ws_options.connect_timeout = options_.connect_timeout;
  absl::StatusOr<std::unique_ptr<ws::WebSocketClient>> ws =
      ws::WebSocketClient::Connect(std::move(ws_options));
  if (!ws.ok()) {
    return absl::Status(ws.status().code(), absl::StrCat("whisperlive: ", ws.status().message()));
  }
  nlohmann::json config = options_.extra.is_object() ? options_.extra : nlohmann::json::object();
  config["uid"] = RandomId();
  std::string language = session.language.empty() ? options_.language : session.language;
  // Whisper takes ISO 639-1 codes: "en-US" → "en".
  language = language.substr(0, language.find('-'));
  config["language"] = language.empty() ? nlohmann::json() : nlohmann::json(language);
  config["task"] = "transcribe";
  config["model"] = options_.model;
  config["use_vad"] = options_.use_vad;
  PARLEY_RETURN_IF_ERROR((*ws)->SendText(config.dump()));
  auto result = std::make_unique<WhisperLiveSession>(std::move(*ws), options_);
  PARLEY_RETURN_IF_ERROR(result->WaitForReady(options_.ready_timeout));
  return std::unique_ptr<speech::SttSession>(std::move(result));
}

}  // namespace parley::speechws
