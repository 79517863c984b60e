using RsMoe.EndToEnd.Tests.Support;

namespace RsMoe.EndToEnd.Tests;

/// <summary>What the web page shows when an expert is down: the other sections, and the missing one in plain words.</summary>
[Collection(FaultCollection.Name)]
public sealed class WebPageFaultTests(FaultFixture fixture) : IAsyncLifetime
{
    readonly HeadlessBrowser _browser = new();

    public Task InitializeAsync() => _browser.StartAsync();

    [Fact]
    public async Task A_stopped_expert_shows_as_a_missing_section_and_unavailable()
    {
        var page = await _browser.OpenAsync(fixture.Constellation.GatewayUrl + "/", 1280, 1000);
        fixture.Constellation.Service("expert-relationships").Kill();
        try
        {
            await page.Locator("#image-input").SetInputFilesAsync(ConstellationFixture.Sample("industrial"));
            await page.Locator("#caption-button").ClickAsync();
            await page.Locator(".section.done[data-aspect=objects]").WaitForAsync();
            await page.Locator(".section.done[data-aspect=relationships]").WaitForAsync();
            Assert.True(await page.Locator(".section.missing[data-aspect=relationships]").IsVisibleAsync());
            Assert.StartsWith("This section is missing: the relationships expert", await page.Locator(".section[data-aspect=relationships] [data-role=text]").TextContentAsync());
            Assert.False(string.IsNullOrWhiteSpace(await page.Locator(".section[data-aspect=theme] [data-role=text]").TextContentAsync()));
            await page.Locator("#experts li[data-role=relationships] .badge.down").WaitForAsync();
            await page.ScreenshotAsync(new() { Path = Path.Combine(HeadlessBrowser.ScreenshotDirectory, "web-page-expert-down.png"), FullPage = true });
        }
        finally
        {
            await fixture.RestartAsync("expert-relationships");
        }
    }

    public Task DisposeAsync() => _browser.DisposeAsync().AsTask();
}
