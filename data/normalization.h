// Per-channel normalization values (the mean and std of x/255 that Normalize uses) as text: parsed
// from --mean/--std and checkpoint metadata, written back so that they read as the same floats.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nwq {

// Comma-separated decimal numbers ("0.4914,0.4822,0.4465"), one per channel. Errors start with
// `what` (a flag name, or "FILE: metadata 'mean'"): an empty list or entry, a non-number, and with
// `positive` a value that is not > 0.
std::vector<float> parse_channel_values(const std::string& text, const std::string& what,
                                        bool positive);

// The values comma-separated, each in the shortest "%.<p>g" text that reads back to the same
// float: {0.4914f, 0.4822f, 0.4465f} -> "0.4914,0.4822,0.4465".
std::string format_channel_values(const std::vector<float>& values);

// Channels of the images a --data spec gives: 1 for fmnist[:DIR], 3 for the others (RGB).
int64_t data_spec_channels(const std::string& spec);

// Throws "<what>: N values given, but --data SPEC images have C channel(s) ..." unless values
// holds one value per channel.
void check_channel_count(const std::vector<float>& values, const std::string& spec,
                         const std::string& what);

}  // namespace nwq
