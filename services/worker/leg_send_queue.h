// What a call leg has queued for the callee: 20 ms frames of agent audio and marks, in order.
//
// Shared by the leg kinds (the gRPC media leg, the SIP leg), which keep it under their own
// mutex and pace its frames out with their own clocks; it is not thread-safe by itself.
//
//   LegSendQueue queue;
//   queue.PushFrame(frame.samples);
//   queue.PushMark("sentence-3");
//   for (const std::string& mark : queue.Clear()) { ...report mark as cleared... }
//
// A leg may also turn queued PCM into its encoded packets ahead of sending, oldest first, so a
// long reply does not sit in the queue as PCM (640 bytes a frame against ~60 for a packet):
//
//   if (LegSendQueue::Item* next = queue.NextToEncode(/*keep_pcm=*/25)) {
//     queue.SetPacket(next, Encode(next->pcm));
//   }
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/audio/pcm.h"

namespace parley::worker {

class LegSendQueue {
 public:
  struct Item {
    std::vector<int16_t> pcm;  // one 20 ms frame at 16 kHz, unless a mark or encoded
    std::string mark;
    bool is_mark = false;
    bool encoded = false;  // `packet` holds the frame's encoding and `pcm` is empty (SetPacket)
    std::string packet;
  };

  void PushFrame(std::vector<int16_t> pcm) {
    items_.push_back({std::move(pcm), "", false});
    ++frames_;
    ++pcm_frames_;
  }
  void PushMark(std::string name) { items_.push_back({{}, std::move(name), true}); }

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  // The next item; the queue must not be empty.
  const Item& front() const { return items_.front(); }

  // Takes the next item off the queue; the queue must not be empty.
  Item Pop() {
    Item item = std::move(items_.front());
    items_.pop_front();
    if (!item.is_mark) --frames_;
    if (!item.is_mark && !item.encoded) --pcm_frames_;
    if (encoded_prefix_ > 0) --encoded_prefix_;
    return item;
  }

  // The oldest frame still held as PCM, when more than `keep_pcm` frames are and every frame
  // before it is encoded already (so encoding it next keeps the encoder's order); nullptr
  // otherwise. The pointer stays valid until the item is popped or the queue cleared.
  Item* NextToEncode(int64_t keep_pcm) {
    if (pcm_frames_ <= keep_pcm) return nullptr;
    while (encoded_prefix_ < items_.size() &&
           (items_[encoded_prefix_].is_mark || items_[encoded_prefix_].encoded)) {
      ++encoded_prefix_;
    }
    return encoded_prefix_ < items_.size() ? &items_[encoded_prefix_] : nullptr;
  }

  // Replaces the PCM of `item` (from NextToEncode) by its encoding, and frees the PCM.
  void SetPacket(Item* item, std::string packet) {
    item->packet = std::move(packet);
    item->encoded = true;
    std::vector<int16_t>().swap(item->pcm);
    --pcm_frames_;
  }

  // Drops everything queued. Returns the names of the marks dropped, in order: a leg reports
  // them as cleared, so the pipeline knows which sentences were never played.
  std::vector<std::string> Clear() {
    std::vector<std::string> marks;
    for (const Item& item : items_) {
      if (item.is_mark) marks.push_back(item.mark);
    }
    std::deque<Item>().swap(items_);  // clear() would keep the deque's blocks
    frames_ = 0;
    pcm_frames_ = 0;
    encoded_prefix_ = 0;
    ++clears_;
    return marks;
  }

  // How many audio frames are queued (marks are not counted).
  int64_t frames() const { return frames_; }
  // How many of those are still PCM (not yet SetPacket).
  int64_t pcm_frames() const { return pcm_frames_; }
  // How many times Clear ran: an Item* from NextToEncode is stale once this changed.
  uint64_t clears() const { return clears_; }
  // How much audio is queued.
  absl::Duration audio() const { return absl::Milliseconds(frames_ * audio::kFrameMs); }

 private:
  std::deque<Item> items_;
  int64_t frames_ = 0;
  int64_t pcm_frames_ = 0;
  // items_[0, encoded_prefix_) hold no PCM frame (marks and encoded frames).
  size_t encoded_prefix_ = 0;
  uint64_t clears_ = 0;
};

}  // namespace parley::worker
