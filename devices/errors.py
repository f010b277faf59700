from kernel.errors import Conflict, NotFound


class UnknownDevice(NotFound):
    pass


class UnknownResident(NotFound):
    pass


class DeviceExists(Conflict):
    pass
