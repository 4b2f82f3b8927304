"""`edgecloud bench speculative`: speculative decoding measured side by side with the target alone, in one
node and across an emulated link, with the roofline that explains the figures."""
