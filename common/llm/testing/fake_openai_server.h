// Test-only: a local HTTP/1.1 server that speaks the OpenAI Chat Completions wire format, scripted
// by the test. It listens on a loopback port, records every request (path, headers, JSON body,
// which connection it came on) and answers each with the next scripted response: a status with
// a JSON body, or a 200 `text/event-stream` of given events (chunked, with optional delays), which
// may end properly, drop the connection mid-way (no [DONE]) or stall until the client gives up.
// Connections are kept alive, so tests can count accepted connections to check reuse.
//
//   FakeOpenAiServer server;
//   server.Enqueue(ScriptedResponse::Stream({R"({"choices":[{"delta":{"content":"Hi"}}]})"}));
//   server.Enqueue(ScriptedResponse::Json(401, R"({"error":{"message":"bad key"}})"));
//   auto llm = OpenAiChat::Create({.base_url = server.base_url(), .model = "m"});
//   ...
//   EXPECT_EQ(server.requests()[0].Header("authorization"), "Bearer k");
//   EXPECT_EQ(server.accepted_connections(), 1);
//
// When the script runs out the server answers 500 {"error":{"message":"no scripted response"}}.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace parley::llm::testing {

struct RecordedRequest {
  int connection = 0;  // 1 for the first accepted connection, 2 for the next…
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  nlohmann::json json;  // the body parsed; null when it is not JSON

  // The header's value, "" when absent. `name` is lower case.
  std::string Header(const std::string& name) const;
};

struct ScriptedResponse {
  enum class Ending {
    kComplete,    // end the response properly; the connection stays open for the next request
    kDisconnect,  // close the connection after the last write, leaving the response unfinished
    kStall,       // send nothing more and hold the connection until the client closes it
  };
  struct Write {
    absl::Duration delay;  // wait before sending
    std::string bytes;     // sent as one HTTP chunk
  };
  struct StreamOptions {
    absl::Duration gap = absl::ZeroDuration();  // before each event
    bool send_done = true;                      // end with "data: [DONE]"
    Ending ending = Ending::kComplete;
  };

  // A whole response with a Content-Length `body` (JSON).
  static ScriptedResponse Json(int status, std::string body);
  // A 200 event stream: each payload as "data: <payload>\n\n", then "data: [DONE]\n\n".
  static ScriptedResponse Stream(const std::vector<std::string>& payloads,
                                 const StreamOptions& options);
  static ScriptedResponse Stream(const std::vector<std::string>& payloads) {
    return Stream(payloads, StreamOptions{});
  }

  int status = 200;
  std::string content_type = "application/json";
  std::string body;           // a non-streamed response's body
  bool streamed = false;      // send `writes` with chunked encoding instead of `body`
  std::vector<Write> writes;  // raw bytes of the streamed body, possibly splitting events
  Ending ending = Ending::kComplete;
};

class FakeOpenAiServer final {
 public:
  // Listens on 127.0.0.1 on a free port. Aborts the test process when it cannot.
  FakeOpenAiServer();
  // Closes every connection and joins the server's threads.
  ~FakeOpenAiServer();

  FakeOpenAiServer(const FakeOpenAiServer&) = delete;
  FakeOpenAiServer& operator=(const FakeOpenAiServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>/v1".
  std::string base_url() const;

  // Adds the answer to the next unanswered request.
  void Enqueue(ScriptedResponse response);

  // Every request received so far, in arrival order.
  std::vector<RecordedRequest> requests() const;
  // Connections accepted so far.
  int accepted_connections() const;
  // Connections the client closed while a response was still being sent or stalled.
  int client_closes() const;

  // Waits until at least `n` requests arrived / `n` client closes were seen; false on timeout.
  bool WaitForRequests(int n, absl::Duration timeout) const;
  bool WaitForClientCloses(int n, absl::Duration timeout) const;

 private:
  void AcceptLoop();
  void Serve(int fd, int connection);
  // Answers one request; false when the connection must end.
  bool Answer(int fd, const ScriptedResponse& response);

  int listen_fd_ = -1;
  int port_ = 0;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<ScriptedResponse> script_ ABSL_GUARDED_BY(mu_);
  size_t next_response_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int client_closes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> connection_threads_ ABSL_GUARDED_BY(mu_);
  std::thread accept_thread_;
};

}  // namespace parley::llm::testing
