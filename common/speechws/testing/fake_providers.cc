#include "common/speechws/testing/fake_providers.h"

#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace parley::speechws::testing {

using ws::testing::WsServerConnection;
using json = nlohmann::json;

Recorded FakeProvider::recorded() const {
  absl::MutexLock lock(&mu_);
  return recorded_;
}

bool FakeProvider::WaitFor(const std::function<bool(const Recorded&)>& pred) const {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (pred(recorded())) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

void FakeProvider::Start(ws::testing::WsTestServer::Handler handler) {
  server_ = std::make_unique<ws::testing::WsTestServer>(std::move(handler));
}

void FakeProvider::Record(const std::function<void(Recorded&)>& edit) {
  absl::MutexLock lock(&mu_);
  edit(recorded_);
}

namespace {

// The first `n` words of `text` (all when n is larger).
std::string FirstWords(const std::string& text, size_t n) {
  std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
  words.resize(std::min(n, words.size()));
  return absl::StrJoin(words, " ");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

FakeDeepgram::FakeDeepgram(Options options) : options_(std::move(options)) {
  Start([this](WsServerConnection& c) { Serve(c); });
}

void FakeDeepgram::Serve(WsServerConnection& c) {
  Record([&](Recorded& r) { r.upgrades.push_back(c.request()); });
  if (c.request().path != "/v1/listen") return c.Reject(404, R"({"err_code":"NOT_FOUND"})");
  if (c.request().Header("authorization") != "Token " + options_.api_key) {
    return c.Reject(401, R"({"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."})");
  }
  if (c.request().Query("encoding") != "linear16" || c.request().Query("sample_rate").empty()) {
    return c.Reject(
        400, R"({"err_code":"Bad Request","err_msg":"raw audio needs encoding and sample_rate"})");
  }
  if (!c.Accept()) return;
  auto results = [&](const std::string& transcript, bool is_final, bool from_finalize) {
    json m = {{"type", "Results"},
              {"channel_index", {0, 1}},
              {"is_final", is_final},
              {"speech_final", is_final},
              {"from_finalize", from_finalize},
              {"channel", {{"alternatives", {{{"transcript", transcript}, {"confidence", 0.98}}}}}},
              {"metadata", {{"request_id", "fake"}}}};
    return c.SendText(m.dump());
  };
  size_t since_finalize = 0;
  size_t interims = 0;
  while (auto m = c.Read()) {
    if (m->binary) {
      Record([&](Recorded& r) { r.audio_bytes += m->data.size(); });
      since_finalize += m->data.size();
      // An interim result every 100 ms of audio, one more word each time.
      if (since_finalize / 3200 > interims) {
        ++interims;
        results(FirstWords(options_.transcript, interims), false, false);
        if (options_.failure == Failure::kError) return c.Close(1008, "DATA-0000");
        if (options_.failure == Failure::kDropMidStream) return c.Drop();
      }
      continue;
    }
    Record([&](Recorded& r) { r.texts.push_back(m->data); });
    json control = json::parse(m->data, nullptr, false);
    std::string type = control.is_object() ? control.value("type", "") : "";
    if (type == "Finalize" && since_finalize > 0) {
      results(options_.transcript, true, true);
      since_finalize = 0;
      interims = 0;
    } else if (type == "CloseStream") {
      c.SendText(R"({"type":"Metadata","request_id":"fake","duration":1.0,"channels":1})");
      return c.Close(1000, "");
    }
  }
}

// ---------------------------------------------------------------------------------------------

FakeAssemblyAi::FakeAssemblyAi(Options options) : options_(std::move(options)) {
  Start([this](WsServerConnection& c) { Serve(c); });
}

void FakeAssemblyAi::Serve(WsServerConnection& c) {
  Record([&](Recorded& r) { r.upgrades.push_back(c.request()); });
  if (c.request().path != "/v3/ws") return c.Reject(404, "Not Found");
  if (c.request().Query("speech_model").empty()) {
    return c.Reject(400, R"({"error":"speech_model is required"})");
  }
  if (!c.Accept()) return;
  // v3 reports a bad key with a close code after the upgrade.
  if (c.request().Header("authorization") != options_.api_key) {
    return c.Close(1008, "Unauthorized connection: Invalid API key");
  }
  if (c.request().Query("sample_rate") != "16000" || c.request().Query("encoding") != "pcm_s16le") {
    return c.Close(3007, "Invalid audio format");
  }
  bool format_turns = c.request().Query("format_turns") == "true";
  c.SendText(
      R"({"type":"Begin","id":"de5d9927-73a6-4be8-b52d-b4c07be37e6b","expires_at":1759796682})");
  size_t bytes = 0;
  size_t partials = 0;
  int turn = 0;
  auto send_turn = [&](const std::string& transcript, bool end, bool formatted) {
    json m = {{"type", "Turn"},
              {"turn_order", turn},
              {"turn_is_formatted", formatted},
              {"end_of_turn", end},
              {"transcript", transcript},
              {"end_of_turn_confidence", end ? 0.9 : 0.01},
              {"words", json::array()},
              {"utterance", end ? transcript : ""}};
    c.SendText(m.dump());
  };
  while (auto m = c.Read()) {
    if (m->binary) {
      Record([&](Recorded& r) {
        r.audio_bytes += m->data.size();
        r.binary.push_back(m->data);
      });
      // Universal-Streaming needs 50–1000 ms per message.
      if (m->data.size() < 1600 || m->data.size() > 32000) {
        return c.Close(3007, "Input duration violation");
      }
      bytes += m->data.size();
      if (bytes / 6400 > partials) {
        ++partials;
        send_turn(FirstWords(options_.transcript, partials), false, false);
        if (options_.failure == Failure::kError) {
          c.SendText(R"({"error":"Internal server error"})");
          return c.Close(1011, "Internal server error");
        }
        if (options_.failure == Failure::kDropMidStream) return c.Drop();
      }
      continue;
    }
    Record([&](Recorded& r) { r.texts.push_back(m->data); });
    json control = json::parse(m->data, nullptr, false);
    std::string type = control.is_object() ? control.value("type", "") : "";
    if (type == "ForceEndpoint") {
      send_turn(options_.transcript, true, false);
      if (format_turns) send_turn(options_.formatted, true, true);
      ++turn;
      bytes = 0;
      partials = 0;
    } else if (type == "Terminate") {
      c.SendText(
          R"({"type":"Termination","audio_duration_seconds":1,"session_duration_seconds":1})");
      return c.Close(1000, "");
    }
  }
}

// ---------------------------------------------------------------------------------------------

FakeWhisperLive::FakeWhisperLive(Options options) : options_(std::move(options)) {
  Start([this](WsServerConnection& c) { Serve(c); });
}

void FakeWhisperLive::Serve(WsServerConnection& c) {
  Record([&](Recorded& r) { r.upgrades.push_back(c.request()); });
  if (!c.Accept()) return;
  auto first = c.Read();
  if (!first) return;
  Record([&](Recorded& r) { r.texts.push_back(first->data); });
  json options = json::parse(first->data, nullptr, false);
  if (!options.is_object()) return;
  std::string uid = options.value("uid", "");
  if (options_.full) {
    c.SendText(json({{"uid", uid}, {"status", "WAIT"}, {"message", 2.5}}).dump());
    return c.Close(1000, "");
  }
  if (options.value("model", "") == options_.missing_model) {
    c.SendText(json({{"uid", uid},
                     {"status", "ERROR"},
                     {"message", "Failed to load model: " + options_.missing_model}})
                   .dump());
    return c.Close(1000, "");
  }
  c.SendText(
      json({{"uid", uid}, {"message", "SERVER_READY"}, {"backend", "faster_whisper"}}).dump());
  size_t samples = 0;
  size_t updates = 0;
  while (auto m = c.Read()) {
    if (m->data == "END_OF_AUDIO") {
      Record([&](Recorded& r) { r.texts.push_back("END_OF_AUDIO"); });
      return c.Close(1000, "");
    }
    Record([&](Recorded& r) {
      r.audio_bytes += m->data.size();
      r.binary.push_back(m->data);
    });
    if (m->data.size() % 4 != 0) return c.Close(1011, "not float32");
    samples += m->data.size() / 4;
    // An update every 250 ms of audio: one segment over the stream so far, growing word by word.
    if (samples / 4000 > updates) {
      ++updates;
      json segment = {{"start", "0.000"},
                      {"end", absl::StrFormat("%.3f", samples / 16000.0)},
                      {"text", FirstWords(options_.transcript, updates)},
                      {"completed", false}};
      c.SendText(json({{"uid", uid}, {"segments", {segment}}}).dump());
      if (options_.failure == Failure::kError) {
        c.SendText(json({{"uid", uid}, {"message", "DISCONNECT"}}).dump());
        return c.Close(1000, "");
      }
      if (options_.failure == Failure::kDropMidStream) return c.Drop();
    }
  }
}

// ---------------------------------------------------------------------------------------------

FakeCartesia::FakeCartesia(Options options) : options_(std::move(options)) {
  Start([this](WsServerConnection& c) { Serve(c); });
}

int16_t FakeCartesia::SampleAt(int n) { return static_cast<int16_t>((n * 37) % 20000 - 10000); }

void FakeCartesia::Serve(WsServerConnection& c) {
  Record([&](Recorded& r) { r.upgrades.push_back(c.request()); });
  if (c.request().path != "/tts/websocket") return c.Reject(404, "Not Found");
  if (c.request().Header("x-api-key") != options_.api_key) {
    return c.Reject(401, R"({"error":"Invalid API key"})");
  }
  if (c.request().Header("cartesia-version").empty()) {
    return c.Reject(400, R"({"error":"Cartesia-Version header is required"})");
  }
  if (!c.Accept()) return;
  auto error = [&](const std::string& context_id, int status, const std::string& text) {
    c.SendText(json({{"type", "error"},
                     {"context_id", context_id},
                     {"status_code", status},
                     {"done", true},
                     {"error", text}})
                   .dump());
  };
  while (auto m = c.Read()) {
    Record([&](Recorded& r) { r.texts.push_back(m->data); });
    json request = json::parse(m->data, nullptr, false);
    if (!request.is_object()) continue;
    std::string context_id = request.value("context_id", "");
    if (request.value("cancel", false)) continue;  // nothing in flight here to stop
    const json format = request.value("output_format", json::object());
    const json voice = request.value("voice", json::object());
    if (request.value("model_id", "").empty() || request.value("transcript", "").empty() ||
        context_id.empty() || voice.value("mode", "") != "id" || voice.value("id", "").empty() ||
        format.value("container", "") != "raw" || format.value("encoding", "") != "pcm_s16le" ||
        format.value("sample_rate", 0) != 16000) {
      error(context_id, 400, "invalid generation request");
      continue;
    }
    bool cancelled = false;
    for (int chunk = 0; chunk < options_.chunks && !cancelled; ++chunk) {
      std::string pcm(3200, '\0');
      for (int i = 0; i < 1600; ++i) {
        uint16_t v = static_cast<uint16_t>(SampleAt(chunk * 1600 + i));
        pcm[2 * i] = static_cast<char>(v & 0xff);
        pcm[2 * i + 1] = static_cast<char>(v >> 8);
      }
      c.SendText(json({{"type", "chunk"},
                       {"data", absl::Base64Escape(pcm)},
                       {"done", false},
                       {"status_code", 206},
                       {"step_time", 12},
                       {"context_id", context_id}})
                     .dump());
      if (chunk == 0 && options_.failure == Failure::kError) {
        error(context_id, options_.error_status, "generation failed");
        cancelled = true;
      } else if (chunk == 0 && options_.failure == Failure::kDropMidStream) {
        return c.Drop();
      } else if (chunk == 0 && options_.wait_for_cancel) {
        auto next = c.Read();
        if (!next) return;
        Record([&](Recorded& r) { r.texts.push_back(next->data); });
        json stop = json::parse(next->data, nullptr, false);
        // Cartesia stops the context; nothing more is sent for it.
        cancelled = stop.is_object() && stop.value("cancel", false) &&
                    stop.value("context_id", "") == context_id;
      }
    }
    if (!cancelled) {
      c.SendText(
          json({{"type", "done"}, {"done", true}, {"status_code", 206}, {"context_id", context_id}})
              .dump());
    }
  }
}

}  // namespace parley::speechws::testing
