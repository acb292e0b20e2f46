// What a call leg has queued for the callee: 20 ms frames of agent audio and marks, in order.
//
// Shared by the leg kinds (the gRPC media leg, the SIP leg), which keep it under their own
// mutex and pace its frames out with their own clocks; it is not thread-safe by itself.
//
//   LegSendQueue queue;
//   queue.PushFrame(frame.samples);
//   queue.PushMark("sentence-3");
//   for (const std::string& mark : queue.Clear()) { ...report mark as cleared... }
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
    std::vector<int16_t> pcm;  // one 20 ms frame at 16 kHz, unless a mark
    std::string mark;
    bool is_mark = false;
  };

  void PushFrame(std::vector<int16_t> pcm) {
    items_.push_back({std::move(pcm), "", false});
    ++frames_;
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
    return item;
  }

  // Drops everything queued. Returns the names of the marks dropped, in order: a leg reports
  // them as cleared, so the pipeline knows which sentences were never played.
  std::vector<std::string> Clear() {
    std::vector<std::string> marks;
    for (const Item& item : items_) {
      if (item.is_mark) marks.push_back(item.mark);
    }
    items_.clear();
    frames_ = 0;
    return marks;
  }

  // How many audio frames are queued (marks are not counted).
  int64_t frames() const { return frames_; }
  // How much audio is queued.
  absl::Duration audio() const { return absl::Milliseconds(frames_ * audio::kFrameMs); }

 private:
  std::deque<Item> items_;
  int64_t frames_ = 0;
};

}  // namespace parley::worker
