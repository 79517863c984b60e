using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RsMoe.Gateway.Tests;

/// <summary>A bad setting stops the gateway before it starts, with a message naming the setting.</summary>
public sealed class OptionsValidationTests
{
    static WebApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    [Theory]
    [InlineData("Gateway:MaxImageBytes", "0", "Gateway:MaxImageBytes")]
    [InlineData("Gateway:ExpertTimeout", "-00:00:01", "Gateway:ExpertTimeout")]
    [InlineData("Gateway:ExpertAddress", "http://experts:5000", "must contain {role}")]
    [InlineData("Cache:InProcessMaxEntries", "0", "Cache:InProcessMaxEntries")]
    [InlineData("Resilience:MaxAttempts", "0", "Resilience:MaxAttempts")]
    [InlineData("Service:GrpcPort", "70000", "Service:GrpcPort")]
    [InlineData("Access:Burst", "0", "Access:Burst")]
    public void A_setting_out_of_range_stops_the_start_naming_it(string key, string value, string message)
    {
        var e = Assert.Throws<OptionsValidationException>(() => Builder(new() { [key] = value }).AddGateway());
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_shipped_settings_pass() => Builder([]).AddGateway();
}
