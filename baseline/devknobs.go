package baseline

// DevMult is a temporary tuning knob.
var DevMult = &devMult

var UseMedian = true
