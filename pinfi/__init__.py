"""PinFi: protocol math, contract ABIs and the dApp SDK."""
