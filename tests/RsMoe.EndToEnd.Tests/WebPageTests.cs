using Microsoft.Playwright;
using RsMoe.EndToEnd.Tests.Support;

namespace RsMoe.EndToEnd.Tests;

/// <summary>
/// The gateway's web page in a real headless browser (Debian's chromium, driven by Playwright) against the running
/// constellation: choose a bundled image, watch three sections stream in, ask a question, see the answer and that the
/// features came from the cache. Screenshots go to <c>artifacts/screenshots/</c> at the repository root.
/// </summary>
[Collection(ConstellationCollection.Name)]
public sealed class WebPageTests(ConstellationFixture fixture) : IAsyncLifetime
{
    readonly HeadlessBrowser _browser = new();

    public Task InitializeAsync() => _browser.StartAsync();

    async Task<IPage> OpenAsync(int width, int height)
    {
        return await _browser.OpenAsync(fixture.Constellation.GatewayUrl + "/", width, height);
    }

    [Fact]
    public async Task Upload_caption_and_ask_in_a_real_browser()
    {
        var page = await OpenAsync(1280, 1000);
        Assert.Equal("RS-MoE · remote-sensing captions", await page.TitleAsync());
        Assert.True(await page.Locator("#caption-button").IsDisabledAsync());

        // Upload a bundled image through the file input (as the "Choose a file…" control does).
        await page.Locator("#image-input").SetInputFilesAsync(ConstellationFixture.Sample("harbor"));
        await page.Locator("#preview").WaitForAsync();
        Assert.Contains("harbor.png", await page.Locator("#preview-name").TextContentAsync());

        await page.Locator("#caption-button").ClickAsync();
        foreach (var aspect in new[] { "theme", "objects", "relationships" })
        {
            var section = page.Locator($".section[data-aspect=\"{aspect}\"]");
            await page.Locator($".section.done[data-aspect=\"{aspect}\"]").WaitForAsync();
            Assert.False(string.IsNullOrWhiteSpace(await section.Locator("[data-role=text]").TextContentAsync()));
            Assert.StartsWith($"written by {aspect}@", await section.Locator("[data-role=expert]").TextContentAsync());
        }
        await page.Locator("#caption-status.cache-hit, #caption-status.cache-miss").WaitForAsync();
        Assert.False(string.IsNullOrWhiteSpace(await page.Locator("#merged-caption").TextContentAsync()));
        Assert.True(await page.Locator("#timings tbody tr").CountAsync() >= 5);

        // The section colours follow the paper's figures.
        Assert.Equal("rgb(180, 83, 9)", await page.Locator(".section.theme h3").EvaluateAsync<string>("e => getComputedStyle(e).color"));
        Assert.Equal("rgb(109, 40, 217)", await page.Locator(".section.objects h3").EvaluateAsync<string>("e => getComputedStyle(e).color"));
        Assert.Equal("rgb(21, 128, 61)", await page.Locator(".section.relationships h3").EvaluateAsync<string>("e => getComputedStyle(e).color"));

        // A question about the same image: answered, by a named expert, from cached features.
        await page.Locator("#question").FillAsync("Are there any ships in this image?");
        await page.Locator("#question").PressAsync("Enter");
        await page.Locator("#answer:not([hidden])").WaitForAsync();
        Assert.False(string.IsNullOrWhiteSpace(await page.Locator("#answer-text").TextContentAsync()));
        var meta = await page.Locator("#answer-meta").TextContentAsync();
        Assert.Contains("answered by ", meta);
        Assert.Contains("from the cache", meta);

        // The experts panel shows each expert's health and version.
        await page.Locator("#experts li").Nth(2).WaitForAsync();
        Assert.Equal(3, await page.Locator("#experts .badge.serving").CountAsync());

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(HeadlessBrowser.ScreenshotDirectory, "web-page.png"), FullPage = true });
    }

    [Fact]
    public async Task A_whole_scene_fills_in_tile_by_tile_coloured_by_theme_with_each_tiles_caption_on_click()
    {
        string scene = Path.Combine(Directory.CreateTempSubdirectory("rsmoe-web-scene-").FullName, "four-photos.tif");
        var photos = RsMoe.Scenes.SceneMosaic.UcmTestPhotos(SharedData.Path(), 4).Select(p => p.Path).ToList();
        RsMoe.Scenes.SceneMosaic.Write(scene, photos, columns: 2, cellSize: 256, new RsMoe.Scenes.GeoTiffWriter.Georeferencing(500000, 4000000, 0.3, 32611));

        var page = await OpenAsync(1280, 1400);
        await page.Locator("#scene-sample:not([hidden])").WaitForAsync();   // the shipped sample scene is offered
        await page.Locator("#scene-input").SetInputFilesAsync(scene);
        await page.Locator("#scene-button").ClickAsync();
        await page.Locator("#scene-status[data-status=done]").WaitForAsync(new() { Timeout = 120_000 });
        Assert.Contains("EPSG:32611", await page.Locator("#scene-status").TextContentAsync());
        Assert.Equal(4, await page.Locator(".scene-tile.done").CountAsync());
        await page.Locator("#scene-view:not([hidden])").WaitForAsync();
        Assert.False(await page.Locator("#scene-cancel").IsVisibleAsync());   // nothing left to cancel

        // Every theme in the legend has its share, and a tile's colour is its theme's colour in the legend.
        var legend = await page.Locator("#scene-legend li").AllTextContentsAsync();
        Assert.NotEmpty(legend);
        Assert.All(legend, item => Assert.Contains(" %", item));
        var tile = page.Locator(".scene-tile.done").First;
        string theme = (await tile.GetAttributeAsync("data-theme"))!;
        string tileColour = await tile.EvaluateAsync<string>("e => e.style.getPropertyValue('--tile-colour')");
        var themeItem = page.Locator("#scene-legend li", new() { HasTextString = theme + ":" }).First;
        Assert.Equal(tileColour, await themeItem.EvaluateAsync<string>("e => e.style.getPropertyValue('--tile-colour')"));

        await tile.ClickAsync();
        var shown = await page.Locator("#scene-tile-caption").TextContentAsync();
        Assert.StartsWith($"Tile {await tile.GetAttributeAsync("data-tile")} · {theme}: ", shown);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(HeadlessBrowser.ScreenshotDirectory, "web-page-scene.png"), FullPage = true });
    }

    [Fact]
    public async Task A_sample_scene_works_from_the_keyboard_on_a_phone_sized_screen()
    {
        var page = await OpenAsync(390, 844);
        await page.Locator("#sample-list button").First.WaitForAsync();
        await page.Locator("#sample-list button[data-sample=airport]").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#preview").WaitForAsync();
        await page.Locator("#caption-button").FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.Locator(".section.done[data-aspect=relationships]").WaitForAsync();
        // Nothing overflows sideways on a phone.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        // Every control has a label a screen reader can read.
        Assert.Equal(0, await page.EvaluateAsync<int>(
            "() => [...document.querySelectorAll('input, button')].filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).length"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(HeadlessBrowser.ScreenshotDirectory, "web-page-phone.png"), FullPage = true });
    }

    [Fact]
    public async Task A_file_that_is_not_an_image_gets_an_error_in_plain_words()
    {
        var page = await OpenAsync(1280, 900);
        await page.Locator("#image-input").SetInputFilesAsync(new FilePayload { Name = "notes.png", MimeType = "image/png", Buffer = "just some text"u8.ToArray() });
        await page.Locator("#caption-button").ClickAsync();
        await page.Locator("#error:not([hidden])").WaitForAsync();
        var message = await page.Locator("#error").TextContentAsync();
        Assert.Contains("not an image", message);
        Assert.DoesNotContain("Exception", message);
    }

    [Fact]
    public async Task An_image_over_the_limit_is_refused_before_upload_in_plain_words()
    {
        var page = await OpenAsync(1280, 900);
        await page.Locator("#image-input").SetInputFilesAsync(new FilePayload { Name = "huge.png", MimeType = "image/png", Buffer = new byte[21 << 20] });
        await page.Locator("#error:not([hidden])").WaitForAsync();
        Assert.StartsWith("The image is too large", await page.Locator("#error").TextContentAsync());
        Assert.True(await page.Locator("#caption-button").IsDisabledAsync());
    }

    public Task DisposeAsync() => _browser.DisposeAsync().AsTask();
}
