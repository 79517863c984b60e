using RsMoe.Expert;
using RsMoe.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults($"expert-{builder.Configuration["Expert:Role"]}");
builder.AddExpert();

var app = builder.Build();
app.MapExpert();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
