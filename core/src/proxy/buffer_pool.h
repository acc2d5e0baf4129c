// Fixed-size byte buffers recycled per worker, so a connection holds a buffer only while it has
// bytes its peer could not take yet (idle connections hold none). Worker thread only.
#pragma once

#include <cstddef>
#include <vector>

namespace postern::proxy {

class BufferPool {
public:
    static constexpr std::size_t kBufferSize = 64 * 1024;
    explicit BufferPool(std::size_t keep = 64) : keep_(keep) {}
    ~BufferPool() {
        for (char* b : free_) delete[] b;
    }
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    char* get() {
        if (free_.empty()) return new char[kBufferSize];
        char* b = free_.back();
        free_.pop_back();
        return b;
    }
    void put(char* b) {
        if (!b) return;
        if (free_.size() < keep_) free_.push_back(b);
        else delete[] b;
    }

private:
    std::size_t keep_;
    std::vector<char*> free_;
};

}  // namespace postern::proxy
