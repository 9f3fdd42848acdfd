"""PinFi developer tools (simulation, demo, deploy): the runtime package never imports them."""
