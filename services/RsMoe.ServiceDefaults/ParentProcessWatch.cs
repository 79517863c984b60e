using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RsMoe.ServiceDefaults;

/// <summary>
/// When a launcher (<c>rsmoe up</c>, the tests) sets <c>RSMOE_PARENT_PID</c>, the service stops itself once that process
/// is gone, so a launcher killed outright leaves no orphaned services behind. Unset in deployments.
/// </summary>
internal sealed class ParentProcessWatch(IHostApplicationLifetime lifetime, ILogger<ParentProcessWatch> logger) : BackgroundService
{
    public const string Variable = "RSMOE_PARENT_PID";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(Variable), out int pid)) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (Alive(pid)) continue;
            logger.LogWarning("The launcher (process {Pid}) is gone; stopping", pid);
            lifetime.StopApplication();
            return;
        }
    }

    static bool Alive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
