using RsMoe.Model.Decoding;

namespace RsMoe.Model.Tests.Decoding;

/// <summary>The decoder's thread team: every part runs once per region, failures reach the caller, sleeping workers wake.</summary>
public sealed class ThreadTeamTests
{
    [Fact]
    public void EveryPartRunsOncePerRegionAndPartsBeyondTheCountDoNot()
    {
        var team = ThreadTeam.Rent(3);
        try
        {
            var counts = new int[3];
            const int regions = 20000;
            for (int i = 0; i < regions; i++) team.Run(i % 2 == 0 ? 3 : 2, p => Interlocked.Increment(ref counts[p]));
            Assert.Equal([regions, regions, regions / 2], counts);
        }
        finally { ThreadTeam.Return(team); }
    }

    [Fact]
    public void AWorkersExceptionReachesTheCallerAndTheTeamRunsOn()
    {
        var team = ThreadTeam.Rent(2);
        try
        {
            var error = Assert.Throws<InvalidOperationException>(() => team.Run(2, p => { if (p == 1) throw new InvalidOperationException("part 1 failed"); }));
            Assert.Equal("part 1 failed", error.Message);
            int sum = 0;
            team.Run(2, p => Interlocked.Add(ref sum, p + 1));
            Assert.Equal(3, sum);
        }
        finally { ThreadTeam.Return(team); }
    }

    [Fact]
    public async Task WorkersThatFellAsleepWakeForTheNextRegion()
    {
        var team = ThreadTeam.Rent(2);
        try
        {
            for (int i = 0; i < 5; i++)
            {
                await Task.Delay(ThreadTeam.SpinMicroseconds / 1000 + 20);   // past the spin: the worker waits on the monitor
                int ran = 0;
                // A missed wake-up would hang Run; the timeout turns that into a failure.
                await Task.Run(() => team.Run(2, p => Interlocked.Increment(ref ran))).WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(2, ran);
            }
        }
        finally { ThreadTeam.Return(team); }
    }

    [Fact]
    public void TeamsRentedAtOnceAreDistinct()
    {
        var a = ThreadTeam.Rent(2);
        var b = ThreadTeam.Rent(2);
        Assert.NotSame(a, b);
        ThreadTeam.Return(a);
        ThreadTeam.Return(b);
        Assert.Throws<ArgumentOutOfRangeException>(() => ThreadTeam.Rent(0));
    }
}
