from kernel.errors import Conflict, NotFound


class UnknownDevice(NotFound):
    code = "unknown_device"
    zh_default = "没有这个设备，或不在您的权限范围内"


class UnknownResident(NotFound):
    code = "unknown_resident"
    zh_default = "没有这位老人的档案，或不在您的权限范围内"


class DeviceExists(Conflict):
    code = "device_exists"
    zh_default = "设备号或名称已被登记"
