from kernel.errors import Conflict, NotFound


class UnknownDevice(NotFound):
    code = "unknown_device"


class UnknownResident(NotFound):
    code = "unknown_resident"


class DeviceExists(Conflict):
    code = "device_exists"
