:help map
ds c = cache(range(1000));
count(c)
:time
count(c)
:history
:reset
c
