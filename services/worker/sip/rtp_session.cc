#include "services/worker/sip/rtp_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <speex/speex_jitter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/audio/opus_codec.h"
#include "common/audio/resampler.h"
#include "common/status/status.h"
#include "services/worker/sip/rtp_packet.h"

namespace parley::sip {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kConcealFrames = 3;  // longer holes become silence
constexpr auto kRtcpInterval = std::chrono::seconds(5);
constexpr size_t kMaxDatagram = 2048;

std::mt19937& Random() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

int BindUdp(const in_addr& address, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = address;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string SockaddrBytes(const sockaddr_in& sa) {
  return std::string(reinterpret_cast<const char*>(&sa), sizeof(sa));
}

// The peer's RTP destination and its RTCP one (the same host, the next port), as SockaddrBytes.
struct Destination {
  std::string rtp;
  std::string rtcp;
};

Destination DestinationAt(const sockaddr_in& rtp) {
  sockaddr_in rtcp = rtp;
  rtcp.sin_port = htons(static_cast<uint16_t>(ntohs(rtp.sin_port) + 1));
  return {SockaddrBytes(rtp), SockaddrBytes(rtcp)};
}

// nullopt when `address` is not an IPv4 literal.
std::optional<Destination> DestinationOf(const std::string& address, int port) {
  sockaddr_in rtp{};
  rtp.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &rtp.sin_addr) != 1) return std::nullopt;
  rtp.sin_port = htons(static_cast<uint16_t>(port));
  return DestinationAt(rtp);
}

}  // namespace

// The audio decoding side: codec, PLC, resampling to 16 kHz and 20 ms framing.
class RtpSession::Receiver {
 public:
  static absl::StatusOr<std::unique_ptr<Receiver>> Create(const RtpCodec& codec) {
    auto r = std::unique_ptr<Receiver>(new Receiver(codec));
    if (codec.name == "opus") {
      PARLEY_ASSIGN_OR_RETURN(r->opus_, audio::OpusFrameDecoder::Create(audio::kPipelineRate));
    } else {
      PARLEY_ASSIGN_OR_RETURN(r->resampler_,
                              audio::Resampler::Create(codec.clock_rate, audio::kPipelineRate));
    }
    r->jitter_ = jitter_buffer_init(r->step_);
    if (r->jitter_ == nullptr) return absl::InternalError("speexdsp jitter buffer");
    return r;
  }
  ~Receiver() {
    if (jitter_ != nullptr) jitter_buffer_destroy(jitter_);
  }

  int step() const { return step_; }

  void Put(const RtpPacket& p) {
    JitterBufferPacket packet{};
    packet.data = const_cast<char*>(p.payload.data());  // copied by jitter_buffer_put
    packet.len = static_cast<spx_uint32_t>(p.payload.size());
    packet.timestamp = p.timestamp;
    packet.span = static_cast<spx_uint32_t>(step_);
    packet.sequence = p.sequence;
    jitter_buffer_put(jitter_, &packet);
  }

  // The 16 kHz samples of the next 20 ms: a packet, concealment or silence. `concealed` is set
  // when no packet was there.
  std::vector<int16_t> Next(bool* concealed) {
    char buffer[kMaxDatagram];
    JitterBufferPacket packet{};
    packet.data = buffer;
    packet.len = sizeof(buffer);
    spx_int32_t offset = 0;
    const int got = jitter_buffer_get(jitter_, &packet, step_, &offset);
    jitter_buffer_tick(jitter_);
    *concealed = got != JITTER_BUFFER_OK;
    if (got == JITTER_BUFFER_OK) {
      missing_ = 0;
      return Decode(std::string_view(buffer, packet.len));
    }
    ++missing_;
    return Conceal();
  }

 private:
  explicit Receiver(const RtpCodec& codec)
      : codec_(codec), step_(codec.clock_rate * audio::kFrameMs / 1000) {}

  std::vector<int16_t> Decode(std::string_view payload) {
    if (opus_ != nullptr) {
      absl::StatusOr<std::vector<int16_t>> pcm = opus_->Decode(payload);
      if (!pcm.ok()) return Conceal();
      return *std::move(pcm);
    }
    std::vector<int16_t> pcm = resampler_->Process(DecodeG711(payload, codec_.name == "pcma"));
    last_ = pcm;
    return pcm;
  }

  std::vector<int16_t> Conceal() {
    if (missing_ > kConcealFrames) return std::vector<int16_t>(audio::kFrameSamples, 0);
    if (opus_ != nullptr) {
      absl::StatusOr<std::vector<int16_t>> pcm = opus_->Conceal(audio::kFrameSamples);
      if (pcm.ok()) return *std::move(pcm);
      return std::vector<int16_t>(audio::kFrameSamples, 0);
    }
    // G.711 has no concealment of its own: the last frame again, quieter each time.
    std::vector<int16_t> pcm = last_;
    pcm.resize(audio::kFrameSamples, 0);
    const int shift = missing_;
    for (int16_t& s : pcm) s = static_cast<int16_t>(s >> shift);
    return pcm;
  }

  RtpCodec codec_;
  int step_;
  JitterBuffer* jitter_ = nullptr;
  std::unique_ptr<audio::OpusFrameDecoder> opus_;
  std::unique_ptr<audio::Resampler> resampler_;
  std::vector<int16_t> last_;
  int missing_ = 0;
};

struct RtpSession::Sender {
  RtpCodec codec;
  int dtmf_payload_type = -1;
  uint32_t ssrc = 0;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  bool sent_any = false;
  Clock::time_point last_sent;
  std::unique_ptr<audio::OpusFrameEncoder> opus;
  std::unique_ptr<audio::Resampler> resampler;  // 16 kHz → the G.711 rate
};

absl::StatusOr<std::unique_ptr<RtpSession>> RtpSession::Open(const RtpSessionOptions& options) {
  in_addr address{};
  if (inet_pton(AF_INET, options.bind_address.c_str(), &address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rtp: bind address \"", options.bind_address, "\" is not IPv4"));
  }
  const int low = options.port_min + (options.port_min % 2);
  const int high = options.port_max - 1;
  if (low < 1024 || high > 65535 || high < low) {
    return absl::InvalidArgumentError("rtp: bad port range");
  }
  const int pairs = (high - low) / 2 + 1;
  const int first = std::uniform_int_distribution<int>(0, pairs - 1)(Random());
  for (int i = 0; i < pairs && i < 200; ++i) {
    const int port = low + 2 * ((first + i) % pairs);
    int rtp = BindUdp(address, port);
    if (rtp < 0) continue;
    int rtcp = BindUdp(address, port + 1);
    if (rtcp < 0) {
      close(rtp);
      continue;
    }
    return std::unique_ptr<RtpSession>(new RtpSession(rtp, rtcp, port, options.move_settle));
  }
  return absl::UnavailableError("rtp: no free port pair in the range");
}

RtpSession::RtpSession(int rtp_fd, int rtcp_fd, int port, std::chrono::milliseconds move_settle)
    : rtp_fd_(rtp_fd), rtcp_fd_(rtcp_fd), port_(port), move_settle_(move_settle) {}

RtpSession::~RtpSession() {
  Stop();
  close(rtp_fd_);
  close(rtcp_fd_);
}

absl::Status RtpSession::Start(const MediaAnswer& answer, RtpCallbacks callbacks) {
  std::optional<Destination> remote = DestinationOf(answer.address, answer.port);
  if (!remote.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rtp: remote address \"", answer.address, "\" is not IPv4"));
  }
  auto sender = std::make_unique<Sender>();
  sender->codec = answer.codec;
  sender->dtmf_payload_type = answer.dtmf_payload_type;
  sender->ssrc = Random()();
  sender->sequence = static_cast<uint16_t>(Random()());
  sender->timestamp = Random()();
  if (answer.codec.name == "opus") {
    // RFC 7587: the RTP clock is 48 kHz whatever the audio bandwidth; encoding at 16 kHz is
    // what the pipeline has and what the peer's decoder takes as it is.
    PARLEY_ASSIGN_OR_RETURN(sender->opus, audio::OpusFrameEncoder::Create(audio::kPipelineRate));
  } else {
    PARLEY_ASSIGN_OR_RETURN(
        sender->resampler, audio::Resampler::Create(audio::kPipelineRate, answer.codec.clock_rate));
  }
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("rtp: already started");
    started_ = true;
    answer_ = answer;
    remote_ = std::move(remote->rtp);
    remote_rtcp_ = std::move(remote->rtcp);
  }
  {
    absl::MutexLock lock(&send_mu_);
    sender_ = std::move(sender);
  }
  callbacks_ = std::move(callbacks);
  absl::MutexLock lock(&join_mu_);
  receiver_ = std::thread([this] {
    receiver_id_ = std::this_thread::get_id();
    ReceiveLoop();
  });
  return absl::OkStatus();
}

bool RtpSession::MoveRemote(const std::string& address, int port) {
  if (port <= 0 || port > 65534 || address == "0.0.0.0") return false;
  std::optional<Destination> remote = DestinationOf(address, port);
  if (!remote.has_value()) return false;
  absl::MutexLock lock(&mu_);
  if (!started_ || (address == answer_.address && port == answer_.port)) return false;
  answer_.address = address;
  answer_.port = port;
  moved_from_ = remote_;
  moved_at_ = Clock::now();
  remote_ = std::move(remote->rtp);
  remote_rtcp_ = std::move(remote->rtcp);
  latched_ = false;
  return true;
}

void RtpSession::Stop() {
  stop_ = true;
  // Not on the receive thread itself (a callback's): it ends once it returns there.
  if (std::this_thread::get_id() != receiver_id_.load()) {
    absl::MutexLock lock(&join_mu_);
    if (receiver_.joinable()) receiver_.join();
  }
  absl::MutexLock lock(&send_mu_);
  sender_.reset();
}

RtpStats RtpSession::Stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

bool RtpSession::SendDatagram(const std::string& packet, bool rtcp) {
  std::string to;
  {
    absl::MutexLock lock(&mu_);
    to = rtcp ? remote_rtcp_ : remote_;
    if (!rtcp) ++stats_.packets_sent;
  }
  if (to.size() != sizeof(sockaddr_in)) return false;
  const ssize_t n = sendto(rtcp ? rtcp_fd_ : rtp_fd_, packet.data(), packet.size(), MSG_DONTWAIT,
                           reinterpret_cast<const sockaddr*>(to.data()), sizeof(sockaddr_in));
  return n == static_cast<ssize_t>(packet.size());
}

absl::Status RtpSession::SendFrame(std::span<const int16_t> samples, bool new_run) {
  if (samples.size() != static_cast<size_t>(audio::kFrameSamples)) {
    return absl::InvalidArgumentError("rtp: a frame is 20 ms at 16 kHz");
  }
  std::string packet;
  {
    absl::MutexLock lock(&send_mu_);
    if (sender_ == nullptr || stop_) return absl::FailedPreconditionError("rtp: not sending");
    Sender& s = *sender_;
    std::string payload;
    if (s.opus != nullptr) {
      PARLEY_ASSIGN_OR_RETURN(payload, s.opus->Encode(samples));
    } else {
      std::vector<int16_t> narrow = s.resampler->Process(samples);
      narrow.resize(static_cast<size_t>(s.codec.clock_rate * audio::kFrameMs / 1000), 0);
      payload = EncodeG711(narrow, s.codec.name == "pcma");
    }
    const uint32_t step = static_cast<uint32_t>(s.codec.clock_rate * audio::kFrameMs / 1000);
    const Clock::time_point now = Clock::now();
    if (s.sent_any) {
      uint32_t advance = step;
      if (new_run) {
        // The pause shows as a hole in the timestamps (RFC 3550 §5.1), in whole frames.
        const auto paused =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last_sent);
        advance = std::max<uint32_t>(
            step, static_cast<uint32_t>(paused.count() / audio::kFrameMs) * step);
      }
      s.timestamp += advance;
      ++s.sequence;
    }
    packet = BuildRtp({.payload_type = static_cast<uint8_t>(s.codec.payload_type),
                       .marker = new_run,
                       .sequence = s.sequence,
                       .timestamp = s.timestamp,
                       .ssrc = s.ssrc},
                      payload);
    s.sent_any = true;
    s.last_sent = now;
  }
  SendDatagram(packet, false);
  return absl::OkStatus();
}

absl::StatusOr<RtpSession::DtmfEvent> RtpSession::BeginDtmf(const std::string& digit,
                                                            int duration_ms) {
  const int code = TelephoneEventCode(digit);
  if (code < 0) return absl::InvalidArgumentError("digit: not one of 0-9 * # A-D");
  duration_ms = std::clamp(duration_ms, 40, 2000);
  absl::MutexLock lock(&send_mu_);
  if (sender_ == nullptr || stop_) return absl::FailedPreconditionError("rtp: not sending");
  if (sender_->dtmf_payload_type < 0) {
    return absl::FailedPreconditionError("rtp: the peer took no telephone-event");
  }
  Sender& s = *sender_;
  DtmfEvent e;
  e.code = code;
  e.payload_type = s.dtmf_payload_type;
  e.clock = s.codec.clock_rate;
  e.ssrc = s.ssrc;
  e.frames = duration_ms / audio::kFrameMs;
  if (s.sent_any) s.timestamp += static_cast<uint32_t>(e.clock * audio::kFrameMs / 1000);
  e.timestamp = s.timestamp;
  // Every packet of the event takes a sequence number; reserve them now so audio sent after the
  // event continues the numbering.
  const int packets = e.frames + 3;
  e.next_sequence = static_cast<uint16_t>(s.sequence + (s.sent_any ? 1 : 0));
  s.sequence = static_cast<uint16_t>(e.next_sequence + packets - 1);
  s.timestamp += static_cast<uint32_t>(e.clock / 1000 * duration_ms);
  s.sent_any = true;
  s.last_sent = Clock::now() + std::chrono::milliseconds(duration_ms);
  return e;
}

bool RtpSession::SendDtmfPacket(DtmfEvent& e) {
  if (stop_) return true;
  // Packets 1 … frames-1 one per 20 ms, then the end packet three times (RFC 4733 §2.5.1.4).
  const int last = e.sent + 1 < e.frames ? e.sent + 1 : e.frames + 2;
  for (int i = e.sent + 1; i <= last; ++i) {
    const bool end = i >= e.frames;
    TelephoneEvent event{.event = e.code,
                         .end = end,
                         .volume = 10,
                         .duration = e.clock / 1000 * std::min(i, e.frames) * audio::kFrameMs};
    SendDatagram(BuildRtp({.payload_type = static_cast<uint8_t>(e.payload_type),
                           .marker = i == 1,
                           .sequence = e.next_sequence++,
                           .timestamp = e.timestamp,
                           .ssrc = e.ssrc},
                          BuildTelephoneEvent(event)),
                 false);
  }
  e.sent = last;
  return e.sent >= e.frames + 2;
}

absl::Status RtpSession::SendDtmf(const std::string& digit, int duration_ms) {
  PARLEY_ASSIGN_OR_RETURN(DtmfEvent event, BeginDtmf(digit, duration_ms));
  auto next = Clock::now();
  while (!SendDtmfPacket(event)) {
    next += std::chrono::milliseconds(audio::kFrameMs);
    std::this_thread::sleep_until(next);
  }
  return absl::OkStatus();
}

void RtpSession::ReceiveLoop() {
  MediaAnswer answer;
  {
    absl::MutexLock lock(&mu_);
    answer = answer_;
  }
  absl::StatusOr<std::unique_ptr<Receiver>> created = Receiver::Create(answer.codec);
  if (!created.ok()) return;
  std::unique_ptr<Receiver> receiver = *std::move(created);
  audio::FrameAssembler frames(audio::kPipelineRate);
  uint32_t ssrc = 0;
  {
    absl::MutexLock lock(&send_mu_);
    if (sender_ != nullptr) ssrc = sender_->ssrc;
  }
  std::optional<Clock::time_point> next_tick;  // set once the first packet arrived
  auto next_rtcp = Clock::now() + kRtcpInterval;
  std::optional<uint32_t> last_dtmf_timestamp;
  char buffer[kMaxDatagram];
  while (!stop_) {
    const auto now = Clock::now();
    auto until = std::min(next_rtcp, now + std::chrono::milliseconds(50));
    if (next_tick.has_value()) until = std::min(until, *next_tick);
    // To the nanosecond: a timeout in whole milliseconds (poll) rounds the last part of each wait
    // down to 0, and the thread spun through up to a millisecond of every 20 ms tick.
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(Clock::duration::zero(), until - now));
    const timespec timeout{.tv_sec = static_cast<time_t>(wait.count() / 1000000000),
                           .tv_nsec = static_cast<long>(wait.count() % 1000000000)};
    pollfd fds[2] = {{rtp_fd_, POLLIN, 0}, {rtcp_fd_, POLLIN, 0}};
    const int ready = ppoll(fds, 2, &timeout, nullptr);
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      sockaddr_in from{};
      socklen_t from_len = sizeof(from);
      const ssize_t n = recvfrom(rtp_fd_, buffer, sizeof(buffer), 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n > 0) {
        std::string_view datagram(buffer, static_cast<size_t>(n));
        absl::StatusOr<RtpPacket> packet = ParseRtp(datagram);
        const bool rtcp = IsRtcp(datagram);
        const bool audio_packet =
            packet.ok() && !rtcp && packet->payload_type == answer.codec.payload_type;
        const bool dtmf_packet = packet.ok() && !rtcp && answer.dtmf_payload_type >= 0 &&
                                 packet->payload_type == answer.dtmf_payload_type;
        {
          absl::MutexLock lock(&mu_);
          if (rtcp) {
            ++stats_.rtcp_received;
          } else if (audio_packet || dtmf_packet) {
            ++stats_.packets_received;
            // Symmetric RTP (RFC 4961): answer where the peer's media comes from.
            const std::string source = SockaddrBytes(from);
            const bool late_from_old = source == moved_from_ &&
                                       Clock::now() - moved_at_ < move_settle_;
            if ((!latched_ || remote_ != source) && !late_from_old) {
              remote_ = source;
              remote_rtcp_ = DestinationAt(from).rtcp;
              latched_ = true;
            }
          } else {
            ++stats_.packets_dropped;
          }
        }
        if (audio_packet) {
          receiver->Put(*packet);
          if (!next_tick.has_value()) next_tick = Clock::now();
        } else if (dtmf_packet) {
          absl::StatusOr<TelephoneEvent> event = ParseTelephoneEvent(packet->payload);
          if (event.ok() && last_dtmf_timestamp != packet->timestamp) {
            last_dtmf_timestamp = packet->timestamp;
            const std::string digit = TelephoneEventDigit(event->event);
            if (!digit.empty() && callbacks_.on_dtmf) callbacks_.on_dtmf(digit);
          }
        }
      }
    }
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
      const ssize_t n = recv(rtcp_fd_, buffer, sizeof(buffer), 0);
      if (n > 0 && ParseRtcp(std::string_view(buffer, static_cast<size_t>(n))).ok()) {
        absl::MutexLock lock(&mu_);
        ++stats_.rtcp_received;
      }
    }
    const auto after = Clock::now();
    if (after >= next_rtcp) {
      SendDatagram(BuildRtcpReceiverReport(ssrc), true);
      next_rtcp = after + kRtcpInterval;
    }
    while (next_tick.has_value() && after >= *next_tick && !stop_) {
      bool concealed = false;
      frames.Push(receiver->Next(&concealed));
      int delivered = 0;
      while (std::optional<audio::PcmFrame> frame = frames.Pop()) {
        ++delivered;
        if (callbacks_.on_audio) callbacks_.on_audio(*frame);
      }
      {
        absl::MutexLock lock(&mu_);
        stats_.frames_delivered += delivered;
        if (concealed) ++stats_.frames_concealed;
      }
      *next_tick += std::chrono::milliseconds(audio::kFrameMs);
      // Far behind (the thread was starved): skip ahead rather than burst.
      if (after - *next_tick > std::chrono::milliseconds(200)) next_tick = after;
    }
  }
}

}  // namespace parley::sip
