// Platform-independent parts of EventLoop: the timer heap and posted tasks.
#include "net/event_loop.h"

namespace postern::net {

void EventLoop::arm(Timer& t, Clock::time_point deadline) {
    if (t.armed()) {
        auto old = t.deadline_;
        t.deadline_ = deadline;
        if (deadline < old) siftUp(t.index_);
        else siftDown(t.index_);
        return;
    }
    t.deadline_ = deadline;
    t.index_ = heap_.size();
    heap_.push_back(&t);
    siftUp(t.index_);
}

void EventLoop::cancel(Timer& t) {
    if (t.armed()) removeAt(t.index_);
}

void EventLoop::siftUp(std::size_t i) {
    Timer* t = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 2;
        if (!(t->deadline_ < heap_[parent]->deadline_)) break;
        heap_[i] = heap_[parent];
        heap_[i]->index_ = i;
        i = parent;
    }
    heap_[i] = t;
    t->index_ = i;
}

void EventLoop::siftDown(std::size_t i) {
    Timer* t = heap_[i];
    std::size_t n = heap_.size();
    for (;;) {
        std::size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_[c + 1]->deadline_ < heap_[c]->deadline_) ++c;
        if (!(heap_[c]->deadline_ < t->deadline_)) break;
        heap_[i] = heap_[c];
        heap_[i]->index_ = i;
        i = c;
    }
    heap_[i] = t;
    t->index_ = i;
}

void EventLoop::removeAt(std::size_t i) {
    Timer* t = heap_[i];
    t->index_ = Timer::kNotArmed;
    Timer* last = heap_.back();
    heap_.pop_back();
    if (last == t) return;
    heap_[i] = last;
    last->index_ = i;
    siftUp(i);
    siftDown(last->index_);
}

void EventLoop::stop() {
    post([this] { stop_ = true; });
}

void EventLoop::run() {
    stop_ = false;
    while (!stop_) runOnce(std::chrono::seconds(1));
}

int EventLoop::pollTimeoutMs(Clock::duration max_wait) const {
    using std::chrono::milliseconds;
    auto timeout = std::chrono::duration_cast<milliseconds>(max_wait).count();
    if (!heap_.empty()) {
        const auto until = heap_.front()->deadline_ - Clock::now();
        auto ms = std::chrono::duration_cast<milliseconds>(until).count();
        if (ms < 0) ms = 0;
        if (std::chrono::duration_cast<milliseconds>(until) < until) ++ms;
        if (ms < timeout) timeout = ms;
    }
    return static_cast<int>(timeout);
}

void EventLoop::runTimers() {
    // Bounded: timers re-armed for "now" by their handlers run next round, not in a loop here.
    std::size_t budget = heap_.size();
    while (!heap_.empty() && budget-- > 0 && heap_.front()->deadline_ <= now_) {
        Timer* t = heap_.front();
        removeAt(0);
        t->owner_->onTimer(t->tag_);
    }
}

void EventLoop::runPosted() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (posted_.empty()) return;
        running_.swap(posted_);
    }
    for (auto& task : running_) task();
    running_.clear();
}

}  // namespace postern::net
