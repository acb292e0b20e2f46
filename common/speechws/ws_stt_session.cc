#include "common/speechws/ws_stt_session.h"

#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/status/status.h"

namespace parley::speechws {

absl::Status WsSttSession::SafeHandle(const ws::WsMessage& message) {
  try {
    return Handle(message);
  } catch (const nlohmann::json::exception& e) {
    return absl::UnavailableError(absl::StrCat("malformed provider message: ", e.what()));
  }
}

absl::Status WsSttSession::Pump() {
  if (!failure_.ok()) return failure_;
  ws::WsMessage message;
  absl::Status closed;
  while (ws_->TryRead(&message, &closed)) {
    absl::Status handled = SafeHandle(message);
    if (!handled.ok()) {
      failure_ = handled;
      return failure_;
    }
  }
  if (!closed.ok()) failure_ = closed;
  return failure_;
}

absl::Status WsSttSession::PumpUntil(const std::function<bool()>& done, absl::Duration timeout,
                                     bool* timed_out) {
  if (timed_out != nullptr) *timed_out = false;
  absl::Time deadline = absl::Now() + timeout;
  PARLEY_RETURN_IF_ERROR(Pump());
  while (!done()) {
    absl::StatusOr<ws::WsMessage> message = ws_->Read(deadline - absl::Now());
    if (message.status().code() == absl::StatusCode::kDeadlineExceeded) {
      if (timed_out != nullptr) *timed_out = true;
      return absl::OkStatus();
    }
    if (!message.ok()) {
      failure_ = message.status();
      return failure_;
    }
    absl::Status handled = SafeHandle(*message);
    if (!handled.ok()) {
      failure_ = handled;
      return failure_;
    }
  }
  return absl::OkStatus();
}

std::string PcmBytes(std::span<const int16_t> pcm) {
  std::string bytes(pcm.size() * 2, '\0');
  for (size_t i = 0; i < pcm.size(); ++i) {
    uint16_t v = static_cast<uint16_t>(pcm[i]);
    bytes[2 * i] = static_cast<char>(v & 0xff);
    bytes[2 * i + 1] = static_cast<char>(v >> 8);
  }
  return bytes;
}

std::string Float32Bytes(std::span<const int16_t> pcm) {
  std::string bytes(pcm.size() * 4, '\0');
  for (size_t i = 0; i < pcm.size(); ++i) {
    float f = static_cast<float>(pcm[i]) / 32768.0f;
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return bytes;
}

std::string RandomId() {
  static absl::Mutex mu;
  static absl::BitGen* gen = new absl::BitGen();
  uint64_t a, b;
  {
    absl::MutexLock lock(&mu);
    a = absl::Uniform<uint64_t>(*gen);
    b = absl::Uniform<uint64_t>(*gen);
  }
  std::string hex = absl::StrFormat("%016x%016x", a, b);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20));
}

namespace {
std::string Scalar(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}
}  // namespace

std::string QueryFromJson(const nlohmann::json& object) {
  std::string out;
  if (!object.is_object()) return out;
  for (const auto& [key, value] : object.items()) {
    std::vector<nlohmann::json> values;
    if (value.is_array()) {
      for (const auto& v : value) values.push_back(v);
    } else if (!value.is_object() && !value.is_null()) {
      values.push_back(value);
    }
    for (const auto& v : values) {
      if (v.is_object() || v.is_array()) continue;
      absl::StrAppend(&out, out.empty() ? "" : "&", ws::UrlEncode(key), "=",
                      ws::UrlEncode(Scalar(v)));
    }
  }
  return out;
}

absl::Status StatusFromHttpCode(int code, std::string_view message) {
  std::string text(message);
  if (code == 401) return absl::UnauthenticatedError(text);
  if (code == 402 || code == 403) return absl::PermissionDeniedError(text);
  if (code == 429) return absl::ResourceExhaustedError(text);
  if (code >= 400 && code < 500) return absl::InvalidArgumentError(text);
  return absl::UnavailableError(text);
}

std::string JoinWords(const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) {
    absl::string_view p = absl::StripAsciiWhitespace(piece);
    if (p.empty()) continue;
    absl::StrAppend(&out, out.empty() ? "" : " ", p);
  }
  return out;
}

}  // namespace parley::speechws
