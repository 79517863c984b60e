using System.Text.Json;
using System.Text.Json.Nodes;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;

namespace RsMoe.Scenes;

/// <summary>A theme's share of the scene: the tiles that answered it, and the area their cores cover.</summary>
public sealed record ThemeArea(string Theme, int Tiles, long Pixels, double Share, double? SquareMetres);

/// <summary>
/// A captioned scene as an RFC 7946 GeoJSON FeatureCollection: one polygon per tile (its window's corners in WGS84
/// longitude/latitude, counter-clockwise), with its caption, sections, theme and pixel window; the collection carries,
/// as foreign members, the source CRS, the tiling and the summary (themes by area, largest first). A scene without
/// georeferencing is written in pixel coordinates (x right, y down) and says so (<c>"coordinates": "pixel"</c>).
/// </summary>
public static class SceneGeoJson
{
    static readonly GeometryFactory Wgs84 = new(new PrecisionModel(), 4326);
    static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions { WriteIndented = false };
        options.Converters.Add(new GeoJsonConverterFactory());
        return options;
    }

    /// <summary>The themes by the area of their tiles' cores (which cover the scene once), largest first; failed tiles left out.</summary>
    public static IReadOnlyList<ThemeArea> Summary(IEnumerable<TileResult> results, GeoReference? geo)
    {
        var captioned = results.Where(r => r.Caption is not null).ToList();
        long total = captioned.Sum(r => r.Tile.Core.Area);
        double? pixelArea = geo is { IsProjected: true } ? geo.PixelArea : null;
        return captioned.GroupBy(r => NormaliseTheme(r.Caption!.Theme))
            .Select(g => (Theme: g.Key, Tiles: g.Count(), Pixels: g.Sum(r => r.Tile.Core.Area)))
            .OrderByDescending(t => t.Pixels).ThenBy(t => t.Theme, StringComparer.Ordinal)
            .Select(t => new ThemeArea(t.Theme, t.Tiles, t.Pixels, total == 0 ? 0 : t.Pixels / (double)total, t.Pixels * pixelArea))
            .ToList();
    }

    /// <summary>How a theme is compared and shown: lower case, without the answer's closing full stop.</summary>
    public static string NormaliseTheme(string theme) => theme.Trim().TrimEnd('.').Trim().ToLowerInvariant();

    /// <param name="fileName">The scene's name as the user knows it (default: the file's own name).</param>
    public static JsonObject Build(SceneImage scene, SceneTiling tiling, IEnumerable<TileResult> results, string? fileName = null)
    {
        var ordered = results.OrderBy(r => r.Tile.Index).ToList();
        var geo = scene.GeoReference;
        var collection = new FeatureCollection();
        foreach (var result in ordered)
        {
            var window = result.Tile.Window;
            var attributes = new AttributesTable
            {
                { "tile", result.Tile.Index },
                { "column", result.Tile.Column },
                { "row", result.Tile.Row },
                { "window", new AttributesTable { { "x", window.X }, { "y", window.Y }, { "width", window.Width }, { "height", window.Height } } },
            };
            if (result.Caption is { } caption)
            {
                attributes.Add("theme", NormaliseTheme(caption.Theme));
                attributes.Add("caption", caption.Caption);
                var sections = new AttributesTable();
                foreach (var section in caption.Sections) sections.Add(section.Aspect, section.Text);
                attributes.Add("sections", sections);
            }
            else attributes.Add("error", result.Error ?? "not captioned");
            attributes.Add("milliseconds", Math.Round(result.Milliseconds, 1));
            collection.Add(new Feature(Polygon(window, geo), attributes));
        }

        var json = JsonSerializer.SerializeToNode(collection, Options)!.AsObject();
        json["coordinates"] = geo is null ? "pixel" : "wgs84";
        json["source_crs"] = geo?.CrsName;
        json["scene"] = new JsonObject
        {
            ["file"] = string.IsNullOrEmpty(fileName) ? Path.GetFileName(scene.Path) : fileName,
            ["width"] = scene.Width,
            ["height"] = scene.Height,
            ["tile_size"] = tiling.TileSize,
            ["overlap"] = tiling.Overlap,
            ["tiles"] = ordered.Count,
            ["failed"] = ordered.Count(r => r.Caption is null),
        };
        json["summary"] = JsonSerializer.SerializeToNode(Summary(ordered, geo).Select(t => new
        {
            theme = t.Theme, tiles = t.Tiles, pixels = t.Pixels, share = Math.Round(t.Share, 6),
            square_metres = t.SquareMetres is { } m ? Math.Round(m, 1) : (double?)null,
        }));
        return json;
    }

    /// <summary>The window's outline: its four corners, counter-clockwise on the map (RFC 7946's right-hand rule), closed.</summary>
    static Polygon Polygon(PixelWindow w, GeoReference? geo)
    {
        (double, double)[] corners = [(w.X, w.Y + w.Height), (w.X + w.Width, w.Y + w.Height), (w.X + w.Width, w.Y), (w.X, w.Y), (w.X, w.Y + w.Height)];
        var ring = corners.Select(c => geo is null ? new Coordinate(c.Item1, c.Item2) : ToCoordinate(geo.ToWgs84(c.Item1, c.Item2))).ToArray();
        return Wgs84.CreatePolygon(ring);
    }

    static Coordinate ToCoordinate((double Longitude, double Latitude) p) => new(Math.Round(p.Longitude, 9), Math.Round(p.Latitude, 9));
}
