#include "common/speech/clock.h"

namespace parley::speech {

SystemClock* SystemClock::Get() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

}  // namespace parley::speech
