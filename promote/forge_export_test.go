package promote

import "time"

// SetPollFloor lowers the shortest interval r polls a forge at (one
// second), so that tests of the wait loops run in milliseconds.
func SetPollFloor(r *PullRequester, d time.Duration) { r.minInterval = d }
