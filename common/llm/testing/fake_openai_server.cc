#include "common/llm/testing/fake_openai_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace parley::llm::testing {
namespace {

constexpr int kPollSliceMs = 10;

std::string ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string RecordedRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

ScriptedResponse ScriptedResponse::Json(int status, std::string body) {
  ScriptedResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

ScriptedResponse ScriptedResponse::Stream(const std::vector<std::string>& payloads,
                                          const StreamOptions& options) {
  ScriptedResponse response;
  response.content_type = "text/event-stream; charset=utf-8";
  response.streamed = true;
  response.ending = options.ending;
  for (const std::string& payload : payloads) {
    response.writes.push_back({options.gap, absl::StrCat("data: ", payload, "\n\n")});
  }
  if (options.send_done) response.writes.push_back({options.gap, "data: [DONE]\n\n"});
  return response;
}

FakeOpenAiServer::FakeOpenAiServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("FakeOpenAiServer: cannot listen");
    std::abort();
  }
  port_ = ntohs(address.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FakeOpenAiServer::~FakeOpenAiServer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  accept_thread_.join();
  // No new connection threads start once the accept loop has ended.
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads = std::move(connection_threads_);
  }
  for (std::thread& thread : threads) thread.join();
  close(listen_fd_);
}

std::string FakeOpenAiServer::base_url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/v1");
}

void FakeOpenAiServer::Enqueue(ScriptedResponse response) {
  absl::MutexLock lock(&mu_);
  script_.push_back(std::move(response));
}

std::vector<RecordedRequest> FakeOpenAiServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FakeOpenAiServer::accepted_connections() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

int FakeOpenAiServer::client_closes() const {
  absl::MutexLock lock(&mu_);
  return client_closes_;
}

bool FakeOpenAiServer::WaitForRequests(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(requests_.size()) >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

bool FakeOpenAiServer::WaitForClientCloses(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return client_closes_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void FakeOpenAiServer::AcceptLoop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kPollSliceMs) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    absl::MutexLock lock(&mu_);
    int connection = ++accepted_;
    connection_threads_.emplace_back([this, fd, connection] { Serve(fd, connection); });
  }
}

void FakeOpenAiServer::Serve(int fd, int connection) {
  auto stopping = [this] {
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  std::string buffer;
  char chunk[16384];
  for (;;) {
    // Read one request: headers up to the blank line, then Content-Length bytes of body.
    size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (stopping()) break;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, kPollSliceMs) <= 0) continue;
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    if (header_end == std::string::npos) break;
    RecordedRequest request;
    request.connection = connection;
    std::string_view head(buffer.data(), header_end);
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    size_t space1 = request_line.find(' ');
    size_t space2 = request_line.find(' ', space1 + 1);
    request.method = std::string(request_line.substr(0, space1));
    request.path = std::string(request_line.substr(space1 + 1, space2 - space1 - 1));
    size_t content_length = 0;
    while (line_end != std::string_view::npos && line_end < head.size()) {
      size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      std::string_view line = head.substr(
          start, line_end == std::string_view::npos ? std::string_view::npos : line_end - start);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = absl::AsciiStrToLower(std::string(line.substr(0, colon)));
      std::string value(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
      if (name == "content-length") {
        (void)absl::SimpleAtoi(value, &content_length);
      }
      request.headers[name] = value;
    }
    buffer.erase(0, header_end + 4);
    bool closed = false;
    while (buffer.size() < content_length) {
      if (stopping()) {
        closed = true;
        break;
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, kPollSliceMs) <= 0) continue;
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    if (closed) break;
    request.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    request.json = nlohmann::json::parse(request.body, nullptr, false);
    if (request.json.is_discarded()) request.json = nullptr;

    ScriptedResponse response;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(std::move(request));
      if (next_response_ < script_.size()) {
        response = script_[next_response_++];
      } else {
        response = ScriptedResponse::Json(500, R"({"error":{"message":"no scripted response"}})");
      }
    }
    if (!Answer(fd, response)) break;
  }
  shutdown(fd, SHUT_RDWR);
  close(fd);
}

bool FakeOpenAiServer::Answer(int fd, const ScriptedResponse& response) {
  // Waits up to `duration` (forever when infinite) for the client to close the connection;
  // true when it did. Any data the client sends meanwhile is not expected and ends the wait too.
  auto client_closed_within = [this, fd](absl::Duration duration) {
    absl::Time deadline = absl::Now() + duration;
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return false;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      int slice = static_cast<int>(
          std::min<int64_t>(kPollSliceMs, std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, slice) <= 0) continue;
      char byte;
      ssize_t n = recv(fd, &byte, 1, MSG_PEEK);
      return n <= 0;
    }
  };
  auto record_client_close = [this] {
    absl::MutexLock lock(&mu_);
    ++client_closes_;
  };

  std::string head = absl::StrFormat("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", response.status,
                                     ReasonPhrase(response.status), response.content_type);
  if (!response.streamed) {
    absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n\r\n", response.body);
    return SendAll(fd, head);
  }
  absl::StrAppend(&head, "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n");
  if (!SendAll(fd, head)) return false;
  for (const ScriptedResponse::Write& write : response.writes) {
    if (write.delay > absl::ZeroDuration() && client_closed_within(write.delay)) {
      record_client_close();
      return false;
    }
    std::string chunk = absl::StrFormat("%x\r\n%s\r\n", write.bytes.size(), write.bytes);
    if (!SendAll(fd, chunk)) {
      record_client_close();
      return false;
    }
  }
  switch (response.ending) {
    case ScriptedResponse::Ending::kComplete:
      return SendAll(fd, "0\r\n\r\n");
    case ScriptedResponse::Ending::kDisconnect:
      return false;
    case ScriptedResponse::Ending::kStall:
      if (client_closed_within(absl::InfiniteDuration())) record_client_close();
      return false;
  }
  return false;
}

}  // namespace parley::llm::testing
