// Test-only: local servers speaking the WebSocket protocols of the streaming speech providers,
// written from their public documentation (each class names its source). Each checks the request
// the way the real service does (path, query parameters, auth header — refusing a bad key),
// streams scripted results, and can fail the way the service does: an error in-protocol (close
// code or error message) or a connection dropped mid-stream. Everything the client sent is
// recorded for the test to inspect.
//
//   FakeDeepgram deepgram({.api_key = "k", .transcript = "yes please"});
//   DeepgramStt stt({.url = deepgram.url(), .api_key = "k"});
//   …
//   EXPECT_EQ(deepgram.recorded().upgrades[0].Query("encoding"), "linear16");
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/ws/testing/ws_test_server.h"

namespace parley::speechws::testing {

enum class Failure {
  kNone,
  kError,          // the provider's in-protocol error after the first results
  kDropMidStream,  // TCP connection cut after the first results, no close frame
};

struct Recorded {
  std::vector<ws::testing::UpgradeRequest> upgrades;
  std::vector<std::string> texts;   // the client's text messages, in order
  std::vector<std::string> binary;  // the client's binary messages, in order
  size_t audio_bytes = 0;
};

// Shared recording and the server; the protocol lives in the subclasses' handlers.
class FakeProvider {
 public:
  virtual ~FakeProvider() = default;
  std::string base_url() const { return server_->url(); }
  int accepted() const { return server_->accepted(); }
  Recorded recorded() const;
  // Waits (up to 10 s) until `pred(recorded())` holds; false if it never did.
  bool WaitFor(const std::function<bool(const Recorded&)>& pred) const;

 protected:
  void Start(ws::testing::WsTestServer::Handler handler);
  // Joins the connections; subclasses call it first in their destructor (handlers use them).
  void Stop() { server_.reset(); }
  void Record(const std::function<void(Recorded&)>& edit);

 private:
  mutable absl::Mutex mu_;
  Recorded recorded_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ws::testing::WsTestServer> server_;
};

// https://developers.deepgram.com/reference/speech-to-text-api/listen-streaming,
// https://developers.deepgram.com/docs/finalize, /docs/close-stream, /docs/audio-keep-alive.
class FakeDeepgram final : public FakeProvider {
 public:
  struct Options {
    std::string api_key = "dg-key";
    std::string transcript = "yes please";
    Failure failure = Failure::kNone;
  };
  explicit FakeDeepgram(Options options);
  ~FakeDeepgram() override { Stop(); }
  std::string url() const { return base_url() + "/v1/listen"; }

 private:
  void Serve(ws::testing::WsServerConnection& c);
  const Options options_;
};

// https://www.assemblyai.com/docs/api-reference/streaming-api/streaming-api,
// https://www.assemblyai.com/docs/streaming/universal-streaming/message-sequence.
class FakeAssemblyAi final : public FakeProvider {
 public:
  struct Options {
    std::string api_key = "aai-key";
    std::string transcript = "yes please";
    std::string formatted = "Yes, please.";
    Failure failure = Failure::kNone;
  };
  explicit FakeAssemblyAi(Options options);
  ~FakeAssemblyAi() override { Stop(); }
  std::string url() const { return base_url() + "/v3/ws"; }

 private:
  void Serve(ws::testing::WsServerConnection& c);
  const Options options_;
};

// https://github.com/collabora/WhisperLive (README "Running the client", whisper_live/server.py).
class FakeWhisperLive final : public FakeProvider {
 public:
  struct Options {
    std::string transcript = "yes please";
    bool full = false;          // answer WAIT, like a server at max_clients
    std::string missing_model;  // this model name fails to load (status ERROR)
    Failure failure = Failure::kNone;
  };
  explicit FakeWhisperLive(Options options);
  ~FakeWhisperLive() override { Stop(); }
  std::string url() const { return base_url(); }

 private:
  void Serve(ws::testing::WsServerConnection& c);
  const Options options_;
};

// https://docs.cartesia.ai/api-reference/tts/websocket.
class FakeCartesia final : public FakeProvider {
 public:
  struct Options {
    std::string api_key = "cartesia-key";
    int chunks = 3;                // 100 ms of audio each
    bool wait_for_cancel = false;  // after the first chunk, wait for the client's next message
    Failure failure = Failure::kNone;
    int error_status = 500;  // status_code of the kError message
  };
  explicit FakeCartesia(Options options);
  ~FakeCartesia() override { Stop(); }
  std::string url() const { return base_url() + "/tts/websocket"; }
  // The sample value of the n-th sample of every generation (what the client must decode).
  static int16_t SampleAt(int n);

 private:
  void Serve(ws::testing::WsServerConnection& c);
  const Options options_;
};

}  // namespace parley::speechws::testing
